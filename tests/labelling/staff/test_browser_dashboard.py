"""Staff run a campaign from the browser (headless Debian chromium, a real celery worker)."""

import csv
import io
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from labelling.models import Prediction, Project, Subject
from mlworker import synthetic
from tests.browser import TREE_TEXT as TREE
from tests.browser import screenshot, wait_for_ready_versions

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def galaxy_zip(path: Path, count: int) -> Path:
    galaxies = synthetic.make_galaxies(count, size=32, seed=11)
    with zipfile.ZipFile(path, "w") as archive:
        for index, image in enumerate(galaxies.images):
            archive.writestr(f"galaxies/{index:03d}.png", synthetic.image_to_png_bytes(image))
        archive.writestr("galaxies/readme.txt", "this is not an image")
    return path


def test_staff_set_up_a_project_retrain_and_take_the_catalogue_away(
    live_server, page, celery_worker, worker_settings, tmp_path, csp_violations
):
    get_user_model().objects.create_user("owner", password="owner-password-1", is_staff=True)
    page.goto(f"{live_server.url}/staff/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "owner-password-1")
    page.click("main button[type=submit]")

    page.click("text=New project")
    page.fill("#id_slug", "browser-zoo")
    page.fill("#id_title", "Browser Zoo")
    page.fill("#id_image_size", "32")
    page.fill("#id_acquisition_batch_size", "10")
    page.fill("#id_questions", TREE)
    page.click("main button[type=submit]")

    page.set_input_files("#id_archive", str(galaxy_zip(tmp_path / "galaxies.zip", 40)))
    page.click("main button[type=submit]")
    expect(page.locator("#import-summary")).to_have_text("Imported 40 of 41 files · 1 refused")
    expect(page.locator("#import-refusals")).to_contain_text("readme.txt: not an image")

    project = Project.objects.get(slug="browser-zoo")
    call_command(
        "simulate_volunteers",
        project.slug,
        "--classifications",
        "120",
        stdout=StringIO(),
        verbosity=0,
    )

    page.click(".staff-nav >> text=Dashboard")
    page.click("#retrain-now")
    expect(page.locator(".messages")).to_contain_text("Retrain queued")
    wait_for_ready_versions(page, 1, seconds=90)
    screenshot(page, "dashboard.png")

    subject = (  # the model scores the active pool; a subject retired by the votes is not in it
        Subject.objects.filter(project=project, status="active", classification_count__gt=0)
        .order_by("pk")
        .first()
    )
    page.goto(f"{live_server.url}/staff/projects/{project.slug}/subjects/{subject.pk}/")
    posterior = page.locator("img.posterior").first
    expect(posterior).to_be_visible()
    assert (
        page.evaluate("img => img.naturalWidth", posterior.element_handle()) > 100
    )  # the PNG really drew
    screenshot(page, "subject.png")

    page.goto(f"{live_server.url}/staff/projects/{project.slug}/")
    with page.expect_download() as download_info:
        page.click("a.export-predictions")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == Subject.objects.filter(project=project, status="active").count()
    assert {int(row["subject_id"]) for row in rows} == set(
        Subject.objects.filter(project=project, status="active").values_list("pk", flat=True)
    )
    # The catalogue is the model's predictions, not just numbers in range: each row matches its
    # Prediction, the answers' means of a question sum to 1, and each mean lies in its interval.
    predictions = {
        prediction.subject_id: prediction.per_question
        for prediction in Prediction.objects.filter(model_version__project=project)
    }
    for row in rows:
        stored = predictions[int(row["subject_id"])]
        for question in ("smooth-or-featured", "bar"):
            means = []
            for answer, values in stored[question]["answers"].items():
                mean = float(row[f"{question}:{answer}:mean"])
                assert mean == pytest.approx(values["mean"], abs=1e-4), (row, answer)
                low, high = (
                    float(row[f"{question}:{answer}:low90"]),
                    float(row[f"{question}:{answer}:high90"]),
                )
                assert low <= mean + 0.05 and mean - 0.05 <= high, (row, answer)
                means.append(mean)
            assert sum(means) == pytest.approx(1.0, abs=2e-3), (row, question)
    assert csp_violations == []  # every page worked under its Content-Security-Policy
