"""A survey owner's path in headless Debian chromium, as the README's "Run your own project" tells
it: a staff account made with createsuperuser, a new project, images uploaded as a zip with their
manifest, the preview, publishing, volunteers classifying, a retrain by a real celery worker, and
the catalogue downloaded. Its screenshots are the README section's."""

import csv
import io
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from labelling.models import Classification, Project, Subject
from mlworker import synthetic
from tests.browser import TREE_TEXT as TREE
from tests.browser import screenshot, wait_for_ready_versions

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IMAGES = 24


def survey_zip(path: Path) -> Path:
    """IMAGES galaxies (32 px) and their manifest, whose last row names a file that is not there."""
    galaxies = synthetic.make_galaxies(IMAGES, size=32, seed=28)
    rows = ["file,survey_id,ra,dec"]
    with zipfile.ZipFile(path, "w") as archive:
        for index, image in enumerate(galaxies.images):
            name = f"J{index:04d}.png"
            archive.writestr(f"images/{name}", synthetic.image_to_png_bytes(image))
            rows.append(f"{name},SURVEY-{index:04d},{150 + index / 100:.4f},{2 + index / 100:.4f}")
        rows.append("J9999.png,SURVEY-9999,151.0,3.0")
        archive.writestr("manifest.csv", "\n".join(rows) + "\n")
    return path


def test_an_owner_runs_a_survey_from_images_and_a_manifest_to_the_catalogue(
    live_server, page, browser, celery_worker, worker_settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "owner-password-1")
    call_command(
        "createsuperuser",
        "--noinput",
        "--username=owner",
        "--email=owner@example.org",
        stdout=StringIO(),
    )
    page.goto(f"{live_server.url}/staff/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "owner-password-1")
    page.click("main button[type=submit]")

    # A new project: its settings in four groups; published at once is refused (no images yet).
    page.click("text=New project")
    expect(page.locator("fieldset legend")).to_have_text(
        ["Project", "Volunteers and retirement", "Model and acquisition", "Schedule"]
    )
    page.fill("#id_slug", "my-survey")
    page.fill("#id_title", "My survey")
    page.fill("#id_description", "Spot the bars in our survey's galaxies.")
    page.fill("#id_questions", TREE)
    page.fill("#id_image_size", "32")
    page.fill("#id_acquisition_batch_size", "8")
    page.fill("#id_retrain_minimum_labelled_subjects", "10")
    page.check("#id_is_published")
    screenshot(page, "own-new-project.png")
    page.click("main button[type=submit]")
    expect(page.locator("form.project-form")).to_contain_text(
        "A project with no images cannot be published"
    )
    assert not Project.objects.filter(slug="my-survey").exists()
    page.uncheck("#id_is_published")
    page.click("main button[type=submit]")

    # The images with their manifest: every image imported with its metadata, the bad row named.
    page.set_input_files("#id_archive", str(survey_zip(tmp_path / "survey.zip")))
    page.click("main button[type=submit]")
    expect(page.locator("#import-summary")).to_have_text(
        f"Imported {IMAGES} of {IMAGES} files · 1 manifest row refused"
    )
    expect(page.locator("#import-refusals")).to_contain_text("J9999.png")
    screenshot(page, "own-upload.png")
    project = Project.objects.get(slug="my-survey")
    assert project.is_published is False
    assert sorted(
        Subject.objects.filter(project=project).values_list("metadata__survey_id", flat=True)
    ) == [f"SURVEY-{index:04d}" for index in range(IMAGES)]

    # The preview: the tree walked on the project's own images, nothing stored.
    page.click(".staff-nav >> text=Preview")
    expect(page.locator("#preview-banner")).to_contain_text("Preview of an unpublished project")
    expect(page.locator("#question")).to_have_text("Is the galaxy smooth or featured?")
    first_image = page.locator("#subject-image").get_attribute("src")
    assert first_image.startswith("/media/")
    page.get_by_role("button", name="Featured or disk").click()
    expect(page.locator("#question")).to_have_text("Is there a bar?")
    screenshot(page, "own-preview.png")
    page.keyboard.press("b")
    expect(page.locator("#status")).to_contain_text("Preview: answers not saved")
    expect(page.locator("#question")).to_have_text("Is the galaxy smooth or featured?")
    assert page.locator("#subject-image").get_attribute("src") != first_image
    assert Classification.objects.count() == 0

    # Publish, now that it has images.
    page.click("#preview-banner >> text=Back to the dashboard")
    page.click(".staff-nav >> text=Settings & questions")
    page.check("#id_is_published")
    page.click("main button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Project saved.")
    project.refresh_from_db()
    assert project.is_published is True

    # A volunteer finds it on the home page and classifies three images.
    volunteer = browser.new_context().new_page()
    volunteer.goto(f"{live_server.url}/")
    volunteer.click("text=Classify My survey")
    for done in range(1, 4):
        volunteer.get_by_role("button", name="Smooth").click()
        expect(volunteer.locator("#done-count")).to_have_text(str(done))
    volunteer.context.close()
    assert Classification.objects.filter(project=project).count() == 3
    call_command(  # the rest of the crowd
        "simulate_volunteers", project.slug, "--classifications", "60", stdout=StringIO()
    )

    # A retrain by the worker; the dashboard shows the ready version.
    page.click(".staff-nav >> text=Dashboard")
    page.click("#retrain-now")
    expect(page.locator(".messages")).to_contain_text("Retrain queued")
    wait_for_ready_versions(page, 1)
    screenshot(page, "own-dashboard.png")

    # The catalogue: a row per image and question, with its file, survey ID and the model's estimate.
    with page.expect_download() as download:
        page.click("a[href$='/export/catalogue.csv']")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 2 * IMAGES
    assert {(row["original_name"], row["question"]) for row in rows} == {
        (f"images/J{index:04d}.png", question)  # its path in the zip
        for index in range(IMAGES)
        for question in ("smooth-or-featured", "bar")
    }
    for row in rows:
        index = int(Path(row["original_name"]).stem[1:])
        assert f'"survey_id": "SURVEY-{index:04d}"' in row["metadata"], row
        if row["status"] == "active" and row["question"] == "smooth-or-featured":
            assert row["model_version"] == "1", row
            mean = float(row["smooth:mean"])
            assert float(row["smooth:low90"]) <= mean <= float(row["smooth:high90"]), row
