"""Before a project's first model, volunteers spread over the pool instead of walking one shared
random order (issue 28: 242 votes from 20 volunteers landed on 26 subjects). Real PostgreSQL and
Redis; the SQL path with the queue's Redis pointed where nothing listens."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from labelling.models import SubjectStatus
from labelling.queue import builder, choice
from tests.conftest import ranked_by_a_model, submit_votes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]

SUBJECTS, VOLUNTEERS, VOTES_EACH = 150, 20, 10


def classify_through_the_api(project, volunteers: int, votes_each: int) -> int:
    """Each volunteer in turn asks for the next subject (three prefetched, as the classify page
    does) and classifies the first; returns how many distinct subjects got votes."""
    clients = [Client() for _ in range(volunteers)]
    for _ in range(votes_each):
        for client in clients:
            served = client.get(f"/api/projects/{project.slug}/next", {"count": "3"}).json()
            subject_id = served["subjects"][0]["id"]
            body = {
                "subject": subject_id,
                "answers": {"smooth-or-featured": "smooth"},
                "idempotency_key": uuid.uuid4().hex,
            }
            response = client.post(
                f"/api/projects/{project.slug}/classifications",
                json.dumps(body),
                content_type="application/json",
            )
            assert response.status_code == 201
    return project.subjects.filter(classification_count__gt=0).count()


@pytest.mark.parametrize("queue", ["redis", "sql"])
def test_before_the_first_model_the_same_votes_reach_three_times_the_subjects_of_a_shared_order(
    make_project, settings, queue
):
    if queue == "sql":
        settings.STARLING_QUEUE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
        builder.reset()
    unranked = make_project(slug="unranked", subjects=SUBJECTS)
    shared = ranked_by_a_model(make_project(slug="shared", subjects=SUBJECTS))
    spread = classify_through_the_api(unranked, VOLUNTEERS, VOTES_EACH)
    walked = classify_through_the_api(shared, VOLUNTEERS, VOTES_EACH)
    assert spread >= 3 * walked, (spread, walked)


@pytest.mark.parametrize("queue", ["redis", "sql"])
def test_a_random_request_share_spreads_that_share_of_a_ranked_queues_votes_over_the_pool(
    make_project, settings, queue
):
    """Galaxy Zoo Enhanced's split: half the requests are random checks across the pool, the rest
    walk the model's order (Project.random_request_share; 0, the default, walks it always)."""
    if queue == "sql":
        settings.STARLING_QUEUE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
        builder.reset()
    split = ranked_by_a_model(
        make_project(slug="split", subjects=SUBJECTS, random_request_share=0.5)
    )
    ranked = ranked_by_a_model(make_project(slug="ranked", subjects=SUBJECTS))
    spread = classify_through_the_api(split, VOLUNTEERS, VOTES_EACH)
    walked = classify_through_the_api(ranked, VOLUNTEERS, VOTES_EACH)
    assert spread >= 3 * walked, (spread, walked)


def test_the_demos_simulated_volunteers_label_several_times_more_subjects_before_a_model(
    make_project,
):
    labelled = {}
    for slug in ("unranked", "shared"):
        project = make_project(slug=slug, subjects=SUBJECTS)
        if slug == "shared":
            ranked_by_a_model(project)
        call_command(
            "simulate_volunteers",
            slug,
            "--classifications",
            str(VOLUNTEERS * VOTES_EACH),
            "--volunteers",
            str(VOLUNTEERS),
            stdout=StringIO(),
            verbosity=0,
        )
        labelled[slug] = project.subjects.filter(classification_count__gt=0).count()
    assert labelled["unranked"] >= 3 * labelled["shared"], labelled


def test_a_scattered_next_still_serves_the_last_subject_a_volunteer_has_not_seen(make_project):
    project = make_project(slug="last-one", subjects=12)
    client = Client()
    seen = set()
    for _ in range(12):
        served = client.get(f"/api/projects/{project.slug}/next").json()["subject"]
        assert served is not None and served["id"] not in seen
        seen.add(served["id"])
        body = {
            "subject": served["id"],
            "answers": {"smooth-or-featured": "smooth"},
            "idempotency_key": uuid.uuid4().hex,
        }
        assert (
            client.post(
                f"/api/projects/{project.slug}/classifications",
                json.dumps(body),
                content_type="application/json",
            ).status_code
            == 201
        )
    assert client.get(f"/api/projects/{project.slug}/next").json()["subject"] is None


def test_next_subject_skips_classified_and_retired(make_project, volunteer):
    project = make_project(slug="queue", subjects=3, retirement_limit=2)
    subjects = list(project.subjects.order_by("pk"))
    submit_votes(project, subjects[0], [volunteer], {"smooth-or-featured": "smooth"}, "k1")
    project.subjects.filter(pk=subjects[1].pk).update(status=SubjectStatus.RETIRED)
    seen = {
        choice.subject_next_from_database(project=project, volunteer=volunteer).pk
        for _ in range(20)
    }
    assert seen == {subjects[2].pk}
