"""A survey that lives for months, in headless Debian chromium: the upload's summary names the
refusals first, the dashboard shows progress to the first model, the settings form's errors are
summarised at its top, a question's wording is corrected after votes (every vote kept) and its
shape changed (a new tree version, recorded), and an image is withdrawn (never served again). Its
screenshots are the README's ("Corrections and withdrawals")."""

import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from labelling.models import Classification, Project, Subject
from tests.browser import TREE_TEXT as TREE
from tests.browser import screenshot, screenshot_element
from tests.labelling.staff.test_browser_own_project import IMAGES, survey_zip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def survey_with_a_stray_file(path: Path) -> Path:
    """The owner's survey (images, manifest with a row naming a missing file), and a file that is
    no image."""
    with zipfile.ZipFile(survey_zip(path), "a") as archive:
        archive.writestr("images/notes.txt", "observing notes, not an image")
    return path


def sign_in(page, live_server) -> None:
    get_user_model().objects.create_user("owner", password="owner-password-1", is_superuser=True)
    page.goto(f"{live_server.url}/staff/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "owner-password-1")
    page.click("main button[type=submit]")


def test_staff_correct_the_questions_withdraw_an_image_and_see_where_the_project_stands(
    live_server, page, tmp_path, csp_violations
):
    sign_in(page, live_server)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.click("text=New project")
    page.fill("#id_slug", "long-survey")
    page.fill("#id_title", "Long survey")
    page.fill("#id_questions", TREE)
    page.fill("#id_image_size", "32")
    page.fill("#id_retrain_minimum_labelled_subjects", "25")
    page.click("main button[type=submit]")

    # The upload: its heading counts what was imported and refused, the refusals come first.
    page.set_input_files("#id_archive", str(survey_with_a_stray_file(tmp_path / "survey.zip")))
    page.click("main button[type=submit]")
    expect(page.locator("#import-summary")).to_have_text(
        f"Imported {IMAGES} of {IMAGES + 1} files · 1 refused · 1 manifest row refused"
    )
    refusals = page.locator("#import-refusals li")
    expect(refusals).to_have_count(2)
    expect(refusals.nth(0)).to_contain_text("notes.txt: not an image Pillow can read")
    expect(refusals.nth(1)).to_contain_text("manifest.csv line 26: names 'J9999.png'")
    screenshot(page, "corrections-upload.png", full_page=False)

    # Volunteers classify 12 of the images: the dashboard shows how far the first model is.
    project = Project.objects.get(slug="long-survey")
    call_command(
        "simulate_volunteers", project.slug, "--classifications", "12", "--volunteers", "3",
        stdout=StringIO(), verbosity=0,
    )  # fmt: skip
    labelled = Subject.objects.filter(project=project, classification_count__gt=0).count()
    votes = Classification.objects.filter(project=project).count()
    page.goto(f"{live_server.url}/staff/projects/{project.slug}/")
    expect(page.locator("#published-badge")).to_have_text("not published")
    expect(page.locator("#first-model-progress")).to_contain_text(
        f"First model: {labelled} of 25 labelled subjects"
    )
    screenshot(page, "corrections-dashboard.png", full_page=False)

    # A broken tree is refused with its errors summarised at the top of the form.
    page.click(".staff-nav >> text=Settings & questions")
    page.fill("#id_questions", TREE.replace("-> bar", "-> bars"))
    page.click("form.project-form button[type=submit]")
    expect(page.locator("#form-errors")).to_contain_text("Nothing was saved: 1 thing to fix")
    expect(page.locator("#form-errors")).to_contain_text("leads to unknown question 'bars'")
    screenshot(page, "corrections-form-errors.png", full_page=False)

    # The wording, corrected after votes: every vote kept, the change recorded.
    page.fill(
        "#id_questions", TREE.replace("Is there a bar?", "Do you see a bar across the centre?")
    )
    page.click("form.project-form button[type=submit]")
    expect(page.locator("#tree-version")).to_contain_text("Question tree: version 1")
    expect(page.locator("#tree-version")).to_contain_text("wording (every vote still counts)")
    assert Classification.objects.filter(project=project).count() == votes
    assert project.questions.get(key="bar").text == "Do you see a bar across the centre?"

    # The shape changed: a new version of the tree, shown with the change before it.
    page.click(".staff-nav >> text=Settings & questions")
    shaped = TREE.replace("Do you see a bar across the centre?", "Is there a bar?")
    page.fill("#id_questions", shaped + "\n  unsure [u] Can't tell")
    page.click("form.project-form button[type=submit]")
    expect(page.locator("#tree-version")).to_contain_text("Question tree: version 2")
    page.click(".staff-nav >> text=Settings & questions")
    expect(page.locator("#tree-changes tr.tree-change-shape")).to_contain_text("bar")
    expect(page.locator("#tree-changes tr.tree-change-wording")).to_have_count(2)
    screenshot_element(page.locator("#tree-changes"), "corrections-tree-changes.png")
    assert Classification.objects.filter(project=project).count() == votes

    # An image withdrawn: it says so, and its file is no longer served.
    subject = Subject.objects.filter(project=project, classification_count__gt=0).first()
    image_url = f"{live_server.url}{subject.image_url}"
    assert page.request.get(image_url).status == 200
    page.goto(f"{live_server.url}/staff/projects/{project.slug}/subjects/{subject.pk}/")
    page.click("#withdraw-subject button")
    expect(page.locator(".messages")).to_contain_text(f"Subject {subject.pk} withdrawn")
    expect(page.locator("#withdrawn-note")).to_contain_text("withdrawn")
    screenshot(page, "corrections-withdrawn.png", full_page=False)
    assert page.request.get(image_url).status == 404
    assert (
        Subject.objects.get(pk=subject.pk).classifications.count() == subject.classification_count
    )
    page.goto(f"{live_server.url}/staff/projects/{project.slug}/")
    expect(page.locator("#stat-withdrawn")).to_have_text("1")
    assert csp_violations == []
