"""Taking things back (labelling/retirement/withdrawals.py): a withdrawn image is never served and
is left out where stated, its votes kept; deleting a project asks for confirmation and removes
its files. Real PostgreSQL and Redis, the staff pages through Django's test client."""

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from labelling.catalogue import exports, imports
from labelling.loop import model_selectors
from labelling.models import Classification, ModelVersion, Project, Subject, SubjectStatus
from labelling.retirement import withdrawals
from tests.conftest import png_bytes, submit_votes
from tests.labelling.api_calls import get_next, submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def exported_ids(lines, column="subject_id") -> set[int]:
    return {int(row[column]) for row in csv.DictReader(io.StringIO("".join(lines)))}


def test_a_withdrawn_image_is_never_served_and_left_out_where_stated(
    make_project, staff, volunteer, other_volunteer, django_capture_on_commit_callbacks
):
    project = make_project(slug="withdrawing", subjects=4, retirement_limit=5)
    gone, *kept = project.subjects.order_by("pk")
    submit_votes(project, gone, [volunteer, other_volunteer], {"smooth-or-featured": "smooth"}, "g")
    submit_votes(project, kept[0], [volunteer], {"smooth-or-featured": "smooth"}, "k")
    client = Client()
    assert get_next(client, project, count="10").status_code == 200  # the queue is built
    assert client.get(gone.image_url).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(staff).post(
            f"/staff/projects/{project.slug}/subjects/{gone.pk}/withdraw/"
        )
    assert response.status_code == 302
    gone.refresh_from_db()
    assert (gone.status, gone.retirement_reason) == (SubjectStatus.RETIRED, "withdrawn")

    # Never shown: not in any answer of next (Redis queue or database), its file not served.
    for fresh in (Client(), Client(), client):
        served = [s["id"] for s in get_next(fresh, project, count="10").json()["subjects"]]
        assert gone.pk not in served and served
    assert client.get(gone.image_url).status_code == 404
    assert client.get(kept[0].image_url).status_code == 200
    # A vote on it is refused, with the reason; the votes it had are kept.
    refused = submit(Client(), project, gone.pk)
    assert refused.status_code == 409 and "withdrawn" in refused.json()["error"]
    assert Classification.objects.filter(subject=gone).count() == 2
    # Left out of training and of every export, unless an export asks for it.
    assert gone.pk not in model_selectors.training_set_for_project(project=project).subject_ids
    assert model_selectors.labelled_subjects_count(project=project) == (1, 3)
    for export in (exports.catalogue_csv, exports.vote_counts_csv, exports.classifications_csv):
        assert gone.pk not in exported_ids(export(project=project))
        assert gone.pk in exported_ids(export(project=project, include_withdrawn=True))
    page = staff_client(staff).get(f"/staff/projects/{project.slug}/export/vote-counts.csv")
    assert gone.pk not in exported_ids([b"".join(page.streaming_content).decode()])
    asked = staff_client(staff).get(
        f"/staff/projects/{project.slug}/export/vote-counts.csv?withdrawn=include"
    )
    assert gone.pk in exported_ids([b"".join(asked.streaming_content).decode()])

    # Restored, it is served and counted again.
    with django_capture_on_commit_callbacks(execute=True):
        withdrawals.subject_restore(project=project, subject_id=gone.pk)
    assert client.get(gone.image_url).status_code == 200
    assert Subject.objects.get(pk=gone.pk).status == SubjectStatus.ACTIVE
    assert gone.pk in model_selectors.training_set_for_project(project=project).subject_ids


def test_an_image_another_project_holds_is_still_served_when_one_withdraws_it(make_project):
    first = make_project(slug="first", subjects=1)
    second = make_project(slug="second", subjects=1)  # the same image (png_bytes(1))
    mine, theirs = first.subjects.get(), second.subjects.get()
    assert mine.image == theirs.image
    withdrawals.subject_withdraw(project=first, subject_id=mine.pk)
    assert Client().get(theirs.image_url).status_code == 200


def test_deleting_a_project_asks_for_confirmation_and_removes_its_files(
    make_project, staff, volunteer, django_capture_on_commit_callbacks
):
    project = make_project(slug="doomed", subjects=3)
    other = make_project(slug="neighbour", subjects=0)
    shared = imports.subject_import_image(project=other, name="same.png", data=png_bytes(1))
    submit_votes(project, project.subjects.order_by("pk").first(), [volunteer], {"smooth-or-featured": "smooth"}, "d")  # fmt: skip
    model_folder = Path(settings.MODEL_ROOT) / project.slug / "v1"
    model_folder.mkdir(parents=True)
    (model_folder / "model.keras").write_bytes(b"weights")
    ModelVersion.objects.create(project=project, number=1, artefact_path=str(model_folder))
    files = [
        Path(settings.MEDIA_ROOT) / image
        for image in project.subjects.values_list("image", flat=True)
    ]
    assert all(path.exists() for path in files)
    client = staff_client(staff)

    page = client.get(f"/staff/projects/{project.slug}/delete/")
    assert page.status_code == 200
    text = page.content.decode()
    for said in ("3 images (2 files on disk, 0 withdrawn)", "1 classification by 1 volunteer",
                 "1 model version and the model files in", "Type the project's address"):  # fmt: skip
        assert said in text

    wrong = client.post(f"/staff/projects/{project.slug}/delete/", {"confirm": "doome"})
    assert wrong.status_code == 302 and Project.objects.filter(slug="doomed").exists()
    assert all(path.exists() for path in files)

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/staff/projects/{project.slug}/delete/", {"confirm": "doomed"})
    assert done.status_code == 302 and done["Location"] == "/staff/"
    assert not Project.objects.filter(slug="doomed").exists()
    assert not Subject.objects.filter(project_id=project.pk).exists()
    assert not (Path(settings.MODEL_ROOT) / project.slug).exists()
    shared_file = Path(settings.MEDIA_ROOT) / shared.image
    assert shared_file.exists()  # the neighbour's copy of the first image stays
    assert [path.exists() for path in files if path != shared_file] == [False, False]


def test_an_archived_project_is_unpublished_off_the_home_list_and_never_retrained(
    make_project, staff
):
    project = make_project(
        slug="old", subjects=2, is_published=True, retrain_minimum_labelled_subjects=0
    )
    client = staff_client(staff)
    assert client.post(f"/staff/projects/{project.slug}/archive/").status_code == 302
    project.refresh_from_db()
    assert project.archived_at is not None and not project.is_published
    assert "/staff/projects/old/" not in client.get("/staff/").content.decode()
    assert "/staff/projects/old/" in client.get("/staff/?show=archived").content.decode()
    assert model_selectors.retraining_due(project=project) is False
    client.post(f"/staff/projects/{project.slug}/archive/", {"undo": "1"})
    assert "/staff/projects/old/" in client.get("/staff/").content.decode()
