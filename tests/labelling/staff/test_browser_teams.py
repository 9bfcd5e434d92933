"""A project team in headless Debian chromium, as the README's "Run your own project" tells it: an
account made on the sign-up page starts a project, uploads a zip of images with their manifest and
brings in a collaborator and a researcher; the collaborator edits the question tree; the researcher
downloads the catalogue and is refused the settings; the owner asks for review; a site
administrator approves it, and the project is on the home page. Its screenshots (the team page,
the review request) are the README's."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labelling.models import Membership, Project, Question
from tests.browser import TREE_TEXT, screenshot
from tests.labelling.staff.test_browser_own_project import IMAGES, survey_zip
from tests.labelling.teams.conftest import make_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in(browser, url: str, name: str):
    """A new browser (its own cookies) signed in as `name`, on its projects."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{url}/accounts/login/?next=/staff/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"{name}-password-1")
    page.click("main button[type=submit]")
    expect(page.locator("#staff-projects")).to_be_visible()
    return page


def test_a_team_builds_a_project_that_goes_public_once_an_administrator_approves_it(
    live_server, page, browser, tmp_path, csp_violations
):
    url = live_server.url
    for name in ("carol", "rhea"):
        make_account(name)
    make_account("admin", is_superuser=True)

    # An ordinary account, made on the sign-up page, starts a project.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/")
    page.click("header >> text=Sign up")
    page.fill("#id_username", "olive")
    page.fill("#id_email", "olive@example.org")
    page.fill("#id_password1", "olive-password-1")
    page.fill("#id_password2", "olive-password-1")
    page.click("main button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Welcome, olive")
    page.click("header >> text=Your projects")
    page.click("text=New project")
    page.fill("#id_slug", "team-survey")
    page.fill("#id_title", "Team survey")
    page.fill("#id_questions", TREE_TEXT)
    page.fill("#id_image_size", "32")
    page.click("main button[type=submit]")
    page.set_input_files("#id_archive", str(survey_zip(tmp_path / "survey.zip")))
    page.click("main button[type=submit]")
    expect(page.locator("#import-summary")).to_have_text(f"Imported {IMAGES} of {IMAGES} files")

    # The owner brings in a collaborator by user name and a researcher by e-mail.
    page.click('.staff-nav >> text="Team"')
    for who, role in (("carol", "collaborator"), ("rhea@example.org", "researcher")):
        page.fill("#id_name_or_email", who)
        page.select_option("#id_role", role)
        page.click("#add-member button[type=submit]")
        expect(page.locator(".messages")).to_contain_text(f"is now a {role} of Team survey")
    expect(page.locator("#members td.role")).to_have_text(["owner", "collaborator", "researcher"])
    expect(page.locator("#team-changes li")).to_have_count(3)
    screenshot(page, "team-members.png")

    # The collaborator edits the tree.
    carol = signed_in(browser, url, "carol")
    carol.click("text=Team survey")
    carol.click(".staff-nav >> text=Settings & questions")
    carol.fill("#id_questions", TREE_TEXT.replace("Is there a bar?", "Is there a bar through it?"))
    carol.click("main form.project-form button[type=submit]")
    expect(carol.locator(".messages")).to_contain_text("Project saved.")
    project = Project.objects.get(slug="team-survey")
    assert Question.objects.get(project=project, key="bar").text == "Is there a bar through it?"

    # The researcher takes the catalogue away, and is refused the settings.
    rhea = signed_in(browser, url, "rhea")
    rhea.click("text=Team survey")
    expect(rhea.locator(".staff-nav")).not_to_contain_text("Settings")
    with rhea.expect_download() as download:
        rhea.click("a[href$='/export/catalogue.csv']")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 2 * IMAGES
    refused = rhea.goto(f"{url}/staff/projects/team-survey/edit/")
    assert refused.status == 403
    expect(rhea.locator("#refusal")).to_contain_text(
        "you need the collaborator role (or owner); you are a researcher"
    )

    # The owner asks for review; a site administrator approves it.
    page.click('.staff-nav >> text="Review"')
    page.fill("#id_note", "Our survey's first 24 galaxies, with their manifest.")
    page.click("#ask-review button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Review asked for")
    expect(page.locator("#review-status")).to_contain_text("Waiting for a site administrator")
    admin = signed_in(browser, url, "admin")
    admin.click("header >> text=Review requests")
    expect(admin.locator("#pending-reviews")).to_contain_text("Our survey's first 24 galaxies")
    screenshot(admin, "team-review-request.png")
    admin.click("#pending-reviews button.approve")
    expect(admin.locator(".messages")).to_contain_text("Team survey approved: it is public now")

    # On the home page, for anyone.
    visitor = browser.new_context().new_page()
    visitor.goto(f"{url}/")
    expect(visitor.locator(".projects")).to_contain_text("Team survey")
    assert set(Membership.objects.filter(project=project).values_list("user__username", "role")) == {
        ("olive", "owner"), ("carol", "collaborator"), ("rhea", "researcher"),
    }  # fmt: skip
    assert csp_violations == []
