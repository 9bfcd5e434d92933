import csv
import io
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse

from labelling.catalogue import imports
from labelling.core import projects
from labelling.core.errors import InvalidInput
from labelling.models import AcquisitionPick, AcquisitionRound, ModelVersion, Prediction, Project
from labelling.staff import urls as dashboard_urls
from labelling.volunteer import submission
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


def stored_question(mutual_information, expected_votes, **answers):
    """A Prediction's per-question entry: answers given as answer=(mean, low, high)."""
    return {
        "mutual_information": mutual_information,
        "expected_votes": expected_votes,
        "answers": {
            answer: {"mean": mean, "low": low, "high": high}
            for answer, (mean, low, high) in answers.items()
        },
    }


def scored(project, number=1):
    """A ready model version with a prediction for every subject, and a round: as the loop leaves them."""
    version = ModelVersion.objects.create(
        project=project,
        number=number,
        status="ready",
        training_set_size=3,
        metrics={
            "smooth-or-featured": {
                "nll": 1.2,
                "rmse": 0.2,
                "coverage": {"50": 0.5, "80": 0.8, "95": 0.9},
            }
        },
        timings={"train_seconds": 1.0},
    )
    for subject in project.subjects.all():
        Prediction.objects.create(
            model_version=version,
            subject=subject,
            score=0.1 * subject.pk,
            per_question={
                "smooth-or-featured": stored_question(
                    0.2, 15, smooth=(0.7, 0.5, 0.9), featured=(0.3, 0.1, 0.5)
                ),
                "bar": stored_question(
                    0.1, 4.5, bar=(0.4, 0.0, 0.8), **{"no-bar": (0.6, 0.2, 1.0)}
                ),
            },
            samples={
                "smooth-or-featured": [[0.7, 0.3], [0.6, 0.4], [0.8, 0.2]],
                "bar": [[0.4, 0.6], [0.3, 0.7], [0.5, 0.5]],
            },
        )
    acquisition_round = AcquisitionRound.objects.create(
        project=project, model_version=version, strategy="bald", batch_size=2, exploration_share=0.5
    )
    for rank, subject in enumerate(project.subjects.all()[:2], start=1):
        AcquisitionPick.objects.create(
            acquisition_round=acquisition_round,
            subject=subject,
            rank=rank,
            score=1.0,
            is_exploration=rank == 2,
        )
    return version


def staff_urls(project, subject):
    """Every staff page that answers GET (the POST-only actions left out), and two admin pages.
    tests/labelling/teams/test_permission_table.py checks every staff URL and method by role."""
    arguments = {
        "slug": project.slug, "subject_id": subject.pk, "number": 1, "question": "bar",
        "volunteer_id": 1,
    }  # fmt: skip
    urls = []
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if "GET" not in pattern.callback.needs:
            continue
        names = pattern.pattern.regex.groupindex
        urls.append(reverse(pattern.name, kwargs={name: arguments[name] for name in names}))
    return urls + ["/admin/", "/admin/labelling/classification/"]


@pytest.fixture
def scored_project(project, volunteer):
    submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=project.subjects.first().pk,
        annotations={"smooth-or-featured": "featured", "bar": "bar"},
        idempotency_key="x",
    )
    scored(project)
    return project


def test_every_staff_page_renders_for_staff(scored_project, staff):
    client = Client()
    client.force_login(staff)
    for url in staff_urls(scored_project, scored_project.subjects.first()):
        response = client.get(url)
        assert response.status_code == 200, url


def test_the_versions_table_shows_the_baseline_beside_the_model_and_flags_worse_versions(
    project, staff
):
    held_out = {"items": 14, "nll": 3.217, "baseline_nll": 2.905}
    ModelVersion.objects.create(
        project=project,
        number=1,
        status="ready",
        metrics={"_held_out": held_out},
        worse_than_baseline=True,
    )
    ModelVersion.objects.create(
        project=project,
        number=2,
        status="ready",
        metrics={"_held_out": {"items": 20, "nll": 2.104, "baseline_nll": 2.733}},
    )
    ModelVersion.objects.create(  # issue 28's versions 3-5: higher NLL, within 1.28 s.e.
        project=project,
        number=3,
        status="ready",
        metrics={
            "_held_out": {"items": 9, "nll": 3.37, "baseline_nll": 3.07, "difference_se": 0.4}
        },
    )
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/").content.decode()
    cells = [
        re.sub(r"<[^>]+>", "", cell)
        for cell in re.findall(r'<td class="held-out">(.*?)</td>', page)
    ]
    assert cells[0].startswith("3.370 · 3.070")  # v3 first
    assert "worse than the baseline, within the allowance" in cells[0]
    assert cells[1].startswith("2.104 · 2.733") and "worse" not in cells[1]
    assert cells[2].startswith("3.217 · 2.905") and "not used to order the queue" in cells[2]
    assert "within the allowance" not in cells[2]


def test_the_versions_table_shows_held_out_coverage_and_the_calibration_beside_the_nll(
    project, staff
):
    ModelVersion.objects.create(
        project=project,
        number=1,
        status="ready",
        metrics={
            "_held_out": {
                "items": 41,
                "nll": 2.104,
                "baseline_nll": 2.733,
                "coverage": {"50": 0.487, "80": 0.791, "95": 0.944},
            },
            "_calibration": {
                "method": "overdispersion",
                "noise": {"smooth-or-featured": 0.3, "bar": 0.0},
                "items": 38,
            },
        },
    )
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/").content.decode()
    (cell,) = re.findall(r'<td class="held-out">(.*?)</td>', page)
    text = re.sub(r"<[^>]+>", "", cell)
    assert text.startswith("2.104 · 2.733") and "coverage 0.49/0.79/0.94" in text
    assert "calibrated on 38 validation subjects, overdispersion: " in text
    assert "smooth-or-featured 0.3" in text and "bar 0" in text


def test_retrain_now_button_claims_a_retrain_once(project, staff):
    client = Client()
    client.force_login(staff)
    first = client.post(f"/staff/projects/{project.slug}/retrain/", follow=True)
    assert "Retrain queued" in first.content.decode()
    second = client.post(f"/staff/projects/{project.slug}/retrain/", follow=True)
    assert "already queued or running" in second.content.decode()
    assert client.get(f"/staff/projects/{project.slug}/retrain/").status_code == 405


# A new project as the staff form posts it.
NEW_PROJECT_FORM = {
    "slug": "birds",
    "title": "Birds",
    "description": "",
    "image_size": 32,
    "image_channels": 1,
    "retirement_limit": 10,
    "retirement_rule": "fixed_count",
    "retirement_threshold": 0.2,
    "retirement_max_expected_change": 1.0,
    "retirement_minimum_votes": 3,
    "acquisition_batch_size": 20,
    "exploration_share": 0.1,
    "acquisition_strategy": "power_bald",
    "mc_samples": 15,
    "rotation_invariant": "",
    "retrain_after_new_votes": 50,
    "retrain_after_minutes": 60,
    "retrain_minimum_labelled_subjects": 20,
    "is_published": "",
    "questions": "bird: Is there a bird?\n  yes [y] Yes -> colour\n  no [n] No\ncolour: What colour?\n  red [r] Red\n  blue [b] Blue\n",
}


def test_staff_create_a_project_with_a_question_tree_and_bad_trees_are_explained(staff):
    client = Client()
    client.force_login(staff)
    form = NEW_PROJECT_FORM
    response = client.post("/staff/projects/new/", form)
    assert response.status_code == 302
    tree_page = client.get("/staff/projects/birds/edit/").content.decode()
    assert "yes [y] Yes -&gt; colour" in tree_page
    bad = client.post(
        "/staff/projects/new/", {**form, "slug": "bad", "questions": "bird: Bird?\n  yes Yes"}
    )
    assert bad.status_code == 400 and "Line 2: expected an answer" in bad.content.decode()
    loops = client.post(
        "/staff/projects/new/",
        {**form, "slug": "loop", "questions": "a: A?\n  x [x] X -> nowhere\n  y [y] Y"},
    )
    assert loops.status_code == 400 and "unknown question" in loops.content.decode()


def test_the_new_project_form_explains_each_setting_and_starts_unpublished(staff):
    from labelling.staff.forms import SETTINGS_FIELDS, ProjectForm

    client = Client()
    client.force_login(staff)
    page = client.get("/staff/projects/new/").content.decode()
    for name in ["slug", *SETTINGS_FIELDS]:
        if name in ("title", "description"):
            continue
        help_text = ProjectForm.Meta.help_texts[name]
        assert f'id="id_{name}_helptext"' in page, name
        assert help_text.split("(")[0].strip() in page, name
    published = re.search(r'<input type="checkbox" name="is_published"[^>]*>', page)[0]
    assert "checked" not in published


def test_the_settings_form_shows_every_setting_once_in_its_group(staff):
    from labelling.staff.forms import SETTINGS_FIELDS, SETTINGS_GROUPS

    client = Client()
    client.force_login(staff)
    page = client.get("/staff/projects/new/").content.decode()
    fieldsets = re.findall(r"<fieldset[^>]*>\s*<legend>(.*?)</legend>(.*?)</fieldset>", page, re.S)
    assert [legend for legend, _ in fieldsets] == [
        "Project",
        "Volunteers and retirement",
        "Model and acquisition",
        "Schedule",
    ]
    shown = {
        legend: re.findall(r'<(?:input|select|textarea)[^>]* name="([a-z_]+)"', body)
        for legend, body in fieldsets
    }
    assert shown == {legend: names for legend, names in SETTINGS_GROUPS}
    every_name = [name for names in shown.values() for name in names]
    assert sorted(every_name) == sorted(["slug", "questions", *SETTINGS_FIELDS])


def test_a_project_with_no_images_cannot_be_published_and_stays_unpublished(make_project, staff):
    client = Client()
    client.force_login(staff)
    refused = client.post("/staff/projects/new/", {**NEW_PROJECT_FORM, "is_published": "on"})
    assert refused.status_code == 400
    assert "A project with no images cannot be published" in refused.content.decode()
    assert not Project.objects.filter(slug="birds").exists()
    assert client.post("/staff/projects/new/", NEW_PROJECT_FORM).status_code == 302
    publish = {**NEW_PROJECT_FORM, "is_published": "on"}
    refused = client.post("/staff/projects/birds/edit/", publish)
    assert refused.status_code == 400
    assert (
        refused.content.decode().count("received &#x27;published&#x27; for a project with 0") == 1
    )
    assert Project.objects.get(slug="birds").is_published is False
    with pytest.raises(InvalidInput, match="no images cannot be published"):
        projects.project_update(project=Project.objects.get(slug="birds"), is_published=True)
    assert Project.objects.get(slug="birds").is_published is False

    imports.subject_import_image(
        project=Project.objects.get(slug="birds"), name="one.png", data=png_bytes(1)
    )
    assert client.post("/staff/projects/birds/edit/", publish).status_code == 302
    assert Project.objects.get(slug="birds").is_published is True


def test_the_preview_shows_an_unpublished_projects_questions_and_first_images(make_project, staff):
    project = make_project(slug="hidden", subjects=2, is_published=False)
    client = Client()
    client.force_login(staff)
    response = client.get(f"/staff/projects/{project.slug}/preview/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-preview="true"' in page and "Preview of an unpublished project" in page
    tree = json.loads(re.search(r'id="question-tree"[^>]*>(.*?)</script>', page, re.S)[1])
    assert tree["root"] == "smooth-or-featured" and set(tree["questions"]) == {
        "smooth-or-featured",
        "bar",
    }
    subjects = json.loads(re.search(r'id="preview-subjects"[^>]*>(.*?)</script>', page, re.S)[1])
    # The queue's first, as volunteers would get them.
    assert [subject["id"] for subject in subjects] == list(
        project.subjects.order_by("-priority", "pk").values_list("pk", flat=True)
    )
    assert all(subject["image_url"].startswith("/media/") for subject in subjects)
    # Volunteers still cannot see it.
    assert Client().get(f"/projects/{project.slug}/").status_code == 404


def test_the_preview_of_a_project_with_no_images_shows_the_questions_over_a_placeholder(
    make_project, staff
):
    project = make_project(slug="empty", subjects=0, is_published=False)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/preview/").content.decode()
    subjects = json.loads(re.search(r'id="preview-subjects"[^>]*>(.*?)</script>', page, re.S)[1])
    assert [subject["image_url"] for subject in subjects] == [
        "/static/labelling/preview-placeholder.svg"
    ]


def test_the_form_refuses_a_looping_tree_and_shows_each_error_once(staff):
    client = Client()
    client.force_login(staff)
    looping = "a: A?\n  x [x] X -> b\n  y [y] Y\nb: B?\n  back [k] Back -> a\n  end [e] End\n"
    response = client.post("/staff/projects/new/", {**NEW_PROJECT_FORM, "questions": looping})
    page = response.content.decode()
    assert response.status_code == 400
    assert page.count("it loops (a -&gt; b -&gt; a)") == 1
    assert not Project.objects.filter(slug="birds").exists()
    shortcuts = "a: A?\n  x [x] X\n  y [x] Y\n"
    page = client.post(
        "/staff/projects/new/", {**NEW_PROJECT_FORM, "questions": shortcuts}
    ).content.decode()
    assert page.count("expected one distinct single-character shortcut") == 1
    assert client.post("/staff/projects/new/", NEW_PROJECT_FORM).status_code == 302
    again = client.post("/staff/projects/new/", NEW_PROJECT_FORM).content.decode()
    assert again.count("already exists") == 1


def test_the_upload_page_reports_each_refused_file(project, staff):
    import zipfile

    from tests.conftest import png_bytes

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("new.png", png_bytes(77))
        archive.writestr("broken.png", b"garbage")
    buffer.seek(0)
    buffer.name = "upload.zip"
    client = Client()
    client.force_login(staff)
    page = client.post(
        f"/staff/projects/{project.slug}/upload/", {"archive": buffer}
    ).content.decode()
    assert "Imported 1 of 2 files" in page and "broken.png: not an image" in page


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("nothing.zip", "empty zip", "nothing.zip: no files inside to import; expected images"),
        ("galaxy.png", "png", "galaxy.png: not a zip file; expected a .zip of images"),
    ],
)
def test_the_upload_page_explains_an_empty_zip_and_a_file_that_is_not_one(
    project, staff, name, content, message
):
    import zipfile

    from tests.conftest import png_bytes

    buffer = io.BytesIO()
    if content == "png":
        buffer.write(png_bytes(5))
    else:
        zipfile.ZipFile(buffer, "w").close()
    buffer.seek(0)
    buffer.name = name
    client = Client()
    client.force_login(staff)
    before = project.subjects.count()
    response = client.post(f"/staff/projects/{project.slug}/upload/", {"archive": buffer})
    page = response.content.decode()
    assert response.status_code == 400 and page.count(message) == 1, page
    assert "upload.zip" not in page and "Imported 0 of 0" not in page
    assert project.subjects.count() == before


def test_staff_upload_images_with_a_manifest_then_find_them_by_their_metadata(project, staff):
    import zipfile

    from tests.conftest import png_bytes

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ngc1.png", png_bytes(81))
        archive.writestr("ngc2.png", png_bytes(82))
    buffer.seek(0)
    buffer.name = "survey.zip"
    manifest = io.BytesIO(b"file_name,survey_id,ra\nngc1.png,SDSS-J0912,138.1\nngc2.png,x\n")
    manifest.name = "survey.csv"
    client = Client()
    client.force_login(staff)
    page = client.post(
        f"/staff/projects/{project.slug}/upload/", {"archive": buffer, "manifest": manifest}
    ).content.decode()
    assert "Imported 1 of 2 files" in page
    assert "survey.csv line 3" in page and "expected 3 fields" in page
    found = project.subjects.get(original_name="ngc1.png")
    assert found.metadata == {"survey_id": "SDSS-J0912", "ra": "138.1"}
    listing = client.get(f"/staff/projects/{project.slug}/subjects/", {"q": "sdss-j09"})
    shown = re.findall(r"/subjects/(\d+)/", listing.content.decode())
    assert shown == [str(found.pk)]
    detail = client.get(f"/staff/projects/{project.slug}/subjects/{found.pk}/").content.decode()
    assert "<th>survey_id</th><td>SDSS-J0912</td>" in detail


def query_count(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "page", ["", "subjects/", "round/", "export/predictions.csv", "export/vote-counts.csv"]
)
def test_page_query_counts_do_not_grow_with_the_number_of_subjects(make_project, staff, page):
    from tests.conftest import png_bytes

    small = make_project(slug="small", subjects=4)
    large = make_project(slug="large", subjects=40)
    scored(small)
    scored(large)
    client = Client()
    client.force_login(staff)
    counts = [query_count(client, f"/staff/projects/{p.slug}/{page}") for p in (small, large)]
    assert counts[0] == counts[1], counts
    del png_bytes


def parse(content: bytes | str):
    text = content if isinstance(content, str) else content.decode()
    return list(csv.DictReader(io.StringIO(text)))


def download_csv(client, url: str) -> list[dict]:
    return parse(b"".join(client.get(url).streaming_content))


def test_exports_stream_csv_with_one_row_per_subject_and_n_per_question(scored_project, staff):
    client = Client()
    client.force_login(staff)
    counts = download_csv(client, f"/staff/projects/{scored_project.slug}/export/vote-counts.csv")
    assert len(counts) == scored_project.subjects.count()
    voted = next(row for row in counts if row["classifications"] == "1")
    assert (
        voted["smooth-or-featured:featured"] == "1"
        and voted["smooth-or-featured:N"] == "1"
        and voted["bar:N"] == "1"
    )
    raw = download_csv(client, f"/staff/projects/{scored_project.slug}/export/classifications.csv")
    assert len(raw) == 1 and '"bar": "bar"' in raw[0]["answers"]
    predictions = download_csv(
        client, f"/staff/projects/{scored_project.slug}/export/predictions.csv?version=1"
    )
    assert len(predictions) == scored_project.subjects.count()
    assert (
        predictions[0]["smooth-or-featured:smooth:mean"] == "0.7"
        and predictions[0]["bar:mutual_information"] == "0.1"
    )
    assert (
        client.get(
            f"/staff/projects/{scored_project.slug}/export/predictions.csv?version=x"
        ).status_code
        == 400
    )
    assert (
        client.get(
            f"/staff/projects/{scored_project.slug}/export/predictions.csv?version=9"
        ).status_code
        == 404
    )


def test_the_raw_export_says_which_votes_the_model_asked_for(project, volunteer, staff):
    from labelling.models import ROUND_PRIORITY_BASE, Subject

    asked, other = project.subjects.order_by("pk")[:2]
    Subject.objects.filter(pk=asked.pk).update(priority=ROUND_PRIORITY_BASE + 1)
    for subject in (asked, other):
        submission.classification_submit(
            project=project,
            volunteer=volunteer,
            subject_id=subject.pk,
            annotations={"smooth-or-featured": "smooth"},
            idempotency_key=f"raw-{subject.pk}",
        )
    client = Client()
    client.force_login(staff)
    raw = download_csv(client, f"/staff/projects/{project.slug}/export/classifications.csv")
    assert {row["subject_id"]: row["requested_by_model"] for row in raw} == {
        str(asked.pk): "1",
        str(other.pk): "0",
    }


def test_the_catalogue_has_a_row_for_every_subject_and_question_retired_ones_included(
    scored_project, staff
):
    from labelling.models import Subject

    project = scored_project
    voted = project.subjects.get(classification_count=1)
    retired = project.subjects.exclude(pk=voted.pk).order_by("pk").first()
    Subject.objects.filter(pk=voted.pk).update(metadata={"survey_id": "J1234+5678", "ra": 150.1})
    Subject.objects.filter(pk=retired.pk).update(status="retired", retirement_reason="limit")
    scored(project, number=2).predictions.filter(subject=retired).delete()  # scores the unretired
    ModelVersion.objects.create(project=project, number=3, status="ready", worse_than_baseline=True)
    client = Client()
    client.force_login(staff)
    rows = download_csv(client, f"/staff/projects/{project.slug}/export/catalogue.csv")
    assert len(rows) == project.subjects.count() * 2
    assert {(row["subject_id"], row["question"]) for row in rows} == {
        (str(pk), question)
        for pk in project.subjects.values_list("pk", flat=True)
        for question in ("smooth-or-featured", "bar")
    }
    by_key = {(int(row["subject_id"]), row["question"]): row for row in rows}
    bar = by_key[(voted.pk, "bar")]
    assert json.loads(bar["metadata"]) == {"survey_id": "J1234+5678", "ra": 150.1}
    assert bar["original_name"] == voted.original_name and bar["N"] == "1"
    assert (bar["bar:votes"], bar["bar:fraction"], bar["no-bar:votes"]) == ("1", "1.0", "0")
    assert bar["smooth:votes"] == "" and bar["model_version"] == "2" and bar["bar:mean"] == "0.4"
    old = by_key[(retired.pk, "smooth-or-featured")]
    assert (old["status"], old["retirement_reason"], old["model_version"]) == (
        "retired",
        "limit",
        "1",
    )
    assert old["smooth:mean"] == "0.7" and old["N"] == "0" and old["smooth:fraction"] == ""
    refused = client.get(f"/staff/projects/{project.slug}/export/predictions.csv?version=3")
    assert refused.status_code == 404
    assert "worse than the image-free baseline" in refused.content.decode()
    with pytest.raises(CommandError, match="version 3 has no predictions"):
        call_command("export_predictions", project.slug, "-", "--model-version", "3")


def test_export_commands_write_files_and_refuse_bad_input(scored_project, tmp_path):
    call_command(
        "export_votes",
        scored_project.slug,
        str(tmp_path / "votes.csv"),
        "--kind",
        "raw",
        stdout=StringIO(),
        verbosity=0,
    )
    assert len(parse((tmp_path / "votes.csv").read_text())) == 1
    call_command(
        "export_predictions",
        scored_project.slug,
        str(tmp_path / "p.csv"),
        stdout=StringIO(),
        verbosity=0,
    )
    assert len(parse((tmp_path / "p.csv").read_text())) == scored_project.subjects.count()
    out = StringIO()
    call_command("export_catalogue", scored_project.slug, str(tmp_path / "c.csv"), stdout=out)
    assert len(parse((tmp_path / "c.csv").read_text())) == scored_project.subjects.count() * 2
    assert f"wrote {scored_project.subjects.count() * 2} rows" in out.getvalue()
    with pytest.raises(CommandError, match="No ready model version 7"):
        call_command(
            "export_predictions",
            scored_project.slug,
            str(tmp_path / "x.csv"),
            "--model-version",
            "7",
            verbosity=0,
        )
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_votes", scored_project.slug, "/no/such/folder/votes.csv", verbosity=0)
    with pytest.raises(CommandError, match="Unknown project"):
        call_command("export_votes", "nope", str(tmp_path / "v.csv"), verbosity=0)


def test_the_dashboards_chart_addresses_change_with_a_new_vote_so_no_stale_chart_shows(
    project, volunteer, staff
):
    client = Client()
    client.force_login(staff)

    def chart_source():
        page = client.get(f"/staff/projects/{project.slug}/").content.decode()
        return re.search(r'<img src="([^"]*votes\.png[^"]*)"', page)[1]

    before = chart_source()
    submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=project.subjects.first().pk,
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key="fresh-chart",
    )
    after = chart_source()
    assert before != after and after.endswith("?votes=1")
    assert client.get(after).status_code == 200
