"""The ranked queue in Redis (labelling/queue/redis_queue.py) and its SQL fallback: what next serves
while volunteers vote, rounds reorder and Redis goes away. Real PostgreSQL and real Redis; the
outage tests run a redis-server of their own on another port and stop it."""

import random
import time

import pytest
import redis
from django.test import Client

from labelling import models
from labelling.core import snapshots
from labelling.loop import rounds
from labelling.models import Classification, Subject, SubjectStatus, Volunteer
from labelling.queue import builder, redis_queue
from labelling.volunteer import submission
from tests.conftest import ranked_by_a_model
from tests.labelling.api_calls import (
    assert_books_exact,
    django_capture_on_commit,
    get_next,
    queue_is_built,
    selectors_key,
    submit,
)
from tests.processes import OwnRedis

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]


def test_a_warm_next_costs_no_database_query(make_project, django_assert_num_queries):
    project = make_project(slug="warm", subjects=6)
    client = Client()
    get_next(client, project, count="2")  # creates the session and the volunteer, builds the queue
    get_next(client, project, count="2")  # loads the volunteer's seen set
    assert queue_is_built(project)
    with django_assert_num_queries(0):
        body = get_next(client, project, count="2").json()
    assert len(body["subjects"]) == 2


def test_the_queue_never_serves_a_classified_or_retired_subject(make_project):
    """Three volunteers classify everything they are served (several per request, random answers)
    while votes retire subjects at the limit; every serving is checked against the database."""
    project = make_project(slug="never", subjects=24, retirement_limit=2)
    rng = random.Random(7)
    clients = [Client() for _ in range(3)]
    served_total = 0
    for _ in range(30):
        for client in clients:
            body = get_next(client, project, count=str(rng.randint(1, 4))).json()
            volunteer_id = client.session[selectors_key()][0]
            for subject in body["subjects"]:
                served_total += 1
                assert not Classification.objects.filter(
                    volunteer_id=volunteer_id, subject_id=subject["id"]
                ).exists(), "served a subject this volunteer already classified"
                row = Subject.objects.get(pk=subject["id"])
                assert row.status == SubjectStatus.ACTIVE, "served a retired subject"
            if body["subjects"]:
                answer = rng.choice(["smooth", "featured"])
                answers = {"smooth-or-featured": answer}
                if answer == "featured":
                    answers["bar"] = rng.choice(["bar", "no-bar"])
                assert (
                    submit(client, project, body["subjects"][0]["id"], answers).status_code == 201
                )
    assert served_total > 40
    assert queue_is_built(project)
    assert_books_exact(project)


def test_a_subject_retired_by_a_vote_leaves_the_queue_at_once(make_project):
    project = make_project(slug="retire", subjects=2, retirement_limit=1)
    first, second = project.subjects.order_by("-priority")
    voter, other = Client(), Client()
    get_next(other, project)  # builds the queue with both subjects
    assert submit(voter, project, first.pk).status_code == 201
    for _ in range(10):
        assert [s["id"] for s in get_next(other, project, count="2").json()["subjects"]] == [
            second.pk
        ]


def test_a_new_round_reorders_the_queue(make_project):
    project = ranked_by_a_model(make_project(slug="round", subjects=6))
    client = Client()
    get_next(client, project)
    assert queue_is_built(project)
    last = project.subjects.order_by("priority").first()
    rounds.subjects_set_priorities(priorities={last.pk: models.ROUND_PRIORITY_BASE})
    builder.after_round(project_id=project.pk)
    time.sleep(snapshots.RECHECK_SECONDS)
    assert queue_is_built(project)
    # Each next draws one of the top five at random: 100 draws miss the top one with p = 0.8**100.
    served = {get_next(client, project, count="1").json()["subjects"][0]["id"] for _ in range(100)}
    assert last.pk in served  # it is in the top few now; before it was last of six


def test_a_cold_queue_and_a_missing_redis_give_the_same_answers_as_sql(make_project, settings):
    project = ranked_by_a_model(make_project(slug="same", subjects=12))
    volunteer_client = Client()
    for subject in project.subjects.order_by("-priority")[:3]:
        submit(volunteer_client, project, subject.pk)
    volunteer_id = volunteer_client.session[selectors_key()][0]
    project.refresh_from_db()
    classified = set(
        Classification.objects.filter(volunteer_id=volunteer_id).values_list(
            "subject_id", flat=True
        )
    )
    expected_pool = list(
        Subject.objects.filter(project=project)
        .exclude(pk__in=classified)
        .order_by("-priority")
        .values_list("pk", flat=True)[:7]
    )
    answers = []
    for redis_there in (True, True, False):
        if not redis_there:
            settings.STARLING_QUEUE_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
            builder.reset()
        body = get_next(volunteer_client, project, count="3").json()
        answers.append([subject["id"] for subject in body["subjects"]])
    for ids in answers:
        assert len(ids) == 3 and set(ids) <= set(expected_pool)


# --- Redis stopped -------------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path, settings):
    server = OwnRedis(tmp_path)
    server.start()
    settings.STARLING_QUEUE_REDIS_URL = server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    builder.reset()
    yield server
    server.stop()


def test_with_redis_stopped_next_and_submit_answer_from_the_database(make_project, own_redis):
    project = make_project(slug="outage", subjects=20, retirement_limit=2)
    clients = [Client() for _ in range(3)]
    acknowledged = []

    def round_of_votes():
        for client in clients:
            body = get_next(client, project, count="2")
            assert body.status_code == 200
            subjects = body.json()["subjects"]
            volunteer_id = client.session[selectors_key()][0]
            for subject in subjects:
                assert not Classification.objects.filter(
                    volunteer_id=volunteer_id, subject_id=subject["id"]
                ).exists()
                assert Subject.objects.get(pk=subject["id"]).status == SubjectStatus.ACTIVE
            if subjects:
                response = submit(client, project, subjects[0]["id"])
                assert response.status_code == 201, response.content
                acknowledged.append(response.json()["id"])

    for _ in range(2):
        round_of_votes()
    assert queue_is_built(project)
    version_before = type(project).objects.get(pk=project.pk).serving_version
    own_redis.stop()
    for _ in range(3):
        round_of_votes()  # sessions, rate limits and the queue all without Redis
    version_during = type(project).objects.get(pk=project.pk).serving_version
    assert version_during > version_before  # nobody trusts the keys that missed these votes
    own_redis.start()  # empty: everything is cold again
    time.sleep(redis_queue.RETRY_AFTER_SECONDS)
    for _ in range(3):
        round_of_votes()
    stored = set(Classification.objects.filter(project=project).values_list("pk", flat=True))
    assert set(acknowledged) <= stored and len(acknowledged) == len(stored)
    assert_books_exact(project)


def test_keys_that_missed_votes_while_redis_was_unreachable_are_never_trusted(
    make_project, own_redis
):
    """Redis stays up with its data, but this process could not reach it for a while (paused):
    the votes it stored meanwhile are not in the seen sets, so those keys must not serve again."""
    project = make_project(slug="paused", subjects=10)
    client = Client()
    ordered = list(project.subjects.order_by("-priority").values_list("pk", flat=True))
    get_next(client, project)
    get_next(client, project)  # queue built, seen set loaded
    assert queue_is_built(project)
    admin = redis.Redis.from_url(own_redis.url)
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    for subject_id in ordered[:6]:  # the top six, voted while the queue cannot be told
        assert submit(client, project, subject_id).status_code == 201
    time.sleep(1.6)
    time.sleep(snapshots.RECHECK_SECONDS)
    for _ in range(10):
        served = [s["id"] for s in get_next(client, project, count="4").json()["subjects"]]
        assert not set(served) & set(ordered[:6])
    # The stale keys are still in Redis, under a version nobody reads any more.
    assert admin.keys(f"starling:seen:{project.pk}:*")


# --- the per-volunteer cursor in the queue -------------------------------------------------------


def queue_next(project, client, wanted=1, exclude=()):
    project.refresh_from_db()
    return [
        subject_id
        for subject_id, _ in redis_queue.next_subjects(
            project_id=project.pk,
            version=project.serving_version,
            volunteer_id=client.session[selectors_key()][0],
            wanted=wanted,
            exclude_ids=tuple(exclude),
        )
    ]


def test_a_subject_held_by_the_client_is_not_skipped_later(make_project):
    project = make_project(slug="held", subjects=4)
    first, second, third, _ = project.subjects.order_by("-priority").values_list("pk", flat=True)
    client = Client()
    get_next(client, project)  # builds the queue
    assert submit(client, project, second).status_code == 201
    get_next(client, project)  # the seen set is loaded
    assert queue_next(project, client, exclude=[first]) == [third]
    assert queue_next(project, client) == [first]  # excluded once, not seen: still served


def test_an_import_ranked_above_the_volunteers_cursor_is_served(make_project):
    from labelling.catalogue import imports
    from tests.conftest import png_bytes

    project = make_project(slug="cursor", subjects=5)
    ordered = list(project.subjects.order_by("-priority").values_list("pk", flat=True))
    client = Client()
    get_next(client, project)
    for subject_id in ordered[:3]:
        assert submit(client, project, subject_id).status_code == 201
    assert queue_next(project, client) == [ordered[3]]  # the cursor now stands after ordered[2]
    with django_capture_on_commit():
        newcomer = imports.subject_import_image(project=project, name="new.png", data=png_bytes(99))
    Subject.objects.filter(pk=newcomer.pk).update(priority=5.0)
    project.refresh_from_db()
    redis.Redis.from_url(redis_queue.queue_redis_url()).zadd(
        f"starling:queue:{project.pk}:{project.serving_version}", {newcomer.pk: 5.0}
    )
    assert queue_next(project, client, wanted=2) == [newcomer.pk, ordered[3]]


def test_a_recorded_round_rebuilds_the_queue_in_its_new_order_after_commit(
    make_project, django_capture_on_commit_callbacks
):
    from labelling.models import ModelVersion, ModelVersionStatus

    project = make_project(slug="round-hook", subjects=8)
    client = Client()
    get_next(client, project)  # the queue of the current version
    version_before = type(project).objects.get(pk=project.pk).serving_version
    bottom = list(project.subjects.order_by("priority").values_list("pk", flat=True)[:2])
    model_version = ModelVersion.objects.create(
        project=project, number=1, status=ModelVersionStatus.READY
    )
    with django_capture_on_commit_callbacks(execute=True):
        rounds.round_record(
            version=model_version,
            picks=[(bottom[0], False), (bottom[1], True)],
            scores={pk: 0.0 for pk in project.subjects.values_list("pk", flat=True)},
        )
    project.refresh_from_db()
    assert project.serving_version > version_before
    assert queue_is_built(project)  # built by the hook, before any request asked for it
    time.sleep(snapshots.RECHECK_SECONDS)
    assert queue_next(project, client, wanted=2) == bottom  # the picks, in rank order


def test_a_vote_from_a_process_that_missed_a_new_version_joins_the_new_seen_set(make_project):
    """A web process re-reads the project once a second: a vote it stores just after a round still
    reaches the seen set of the round's version, so that version never serves it back."""
    from labelling.models import Project

    project = make_project(slug="stale-version", subjects=6)
    ordered = list(project.subjects.order_by("-priority").values_list("pk", flat=True))
    client = Client()
    get_next(client, project)
    volunteer_id = client.session[selectors_key()][0]
    stale = Project.objects.get(pk=project.pk)  # what a process holds until its next re-read
    builder.after_round(project_id=project.pk)
    new_version = Project.objects.get(pk=project.pk).serving_version
    assert new_version > stale.serving_version
    redis_queue.next_subjects(  # another process loads the volunteer's seen set of the new version
        project_id=project.pk, version=new_version, volunteer_id=volunteer_id, wanted=1
    )
    submission.classification_submit(
        project=stale,
        volunteer=Volunteer(pk=volunteer_id),
        subject_id=ordered[0],
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key="stale-1",
    )
    served = redis_queue.next_subjects(
        project_id=project.pk, version=new_version, volunteer_id=volunteer_id, wanted=6
    )
    assert served is not None and len(served) == 5
    assert ordered[0] not in [subject_id for subject_id, _ in served]


@pytest.mark.django_db(transaction=True)
def test_a_cold_queue_is_built_in_the_background_while_sql_answers(make_project):
    project = make_project(slug="background", subjects=5)
    client = Client()
    first = get_next(client, project, count="2")  # cold: SQL answers, a thread builds the queue
    assert first.status_code == 200 and len(first.json()["subjects"]) == 2
    deadline = time.monotonic() + 10
    while not queue_is_built(project) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue_is_built(project)
    assert len(get_next(client, project, count="5").json()["subjects"]) == 5
