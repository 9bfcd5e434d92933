"""A volunteer's vote (labelling/volunteer/submission.py): counts kept in step with the raw rows,
the replay of an idempotency key, the refusals, retirement at the limit, and both paths (one
statement on PostgreSQL, the ORM elsewhere) keeping the queue in Redis right. Real PostgreSQL and
real Redis."""

import pytest
import redis
from django.test import Client

from labelling.core import selectors, votes
from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.models import Classification, Subject, SubjectStatus, Volunteer
from labelling.queue import redis_queue
from labelling.volunteer import submission
from tests.labelling.api_calls import (
    assert_books_exact,
    get_next,
    queue_is_built,
    selectors_key,
)
from tests.labelling.api_calls import submit as submit_through_api

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]


def submit(project, volunteer, subject, answers, key="k1"):
    return submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=subject.pk,
        annotations=answers,
        idempotency_key=key,
    )


def test_classification_updates_counts_in_step_with_raw_rows(project, volunteer, other_volunteer):
    subject = project.subjects.first()
    submit(project, volunteer, subject, {"smooth-or-featured": "featured", "bar": "bar"})
    submit(project, other_volunteer, subject, {"smooth-or-featured": "smooth"})
    subject.refresh_from_db()
    assert subject.vote_counts == {
        "smooth-or-featured": {"featured": 1, "smooth": 1},
        "bar": {"bar": 1},
    }
    assert subject.classification_count == 2
    assert votes.subject_recount(subject=subject) == subject.vote_counts


def test_replay_of_same_idempotency_key_returns_the_stored_classification(project, volunteer):
    subject = project.subjects.first()
    first, created = submit(project, volunteer, subject, {"smooth-or-featured": "smooth"})
    again, created_again = submit(project, volunteer, subject, {"smooth-or-featured": "smooth"})
    assert created and not created_again
    assert first.pk == again.pk
    assert Classification.objects.count() == 1


def test_second_vote_by_same_volunteer_is_refused(project, volunteer):
    subject = project.subjects.first()
    submit(project, volunteer, subject, {"smooth-or-featured": "smooth"}, key="a")
    with pytest.raises(Conflict, match="already classified"):
        submit(project, volunteer, subject, {"smooth-or-featured": "smooth"}, key="b")


@pytest.mark.parametrize(
    "answers, message",
    [
        ({}, "non-empty object"),
        ({"colour": "red"}, "Unknown question 'colour'"),
        ({"smooth-or-featured": "spiky"}, "Unknown answer 'spiky'"),
        ({"smooth-or-featured": "featured"}, "Missing answer to question 'bar'"),
        ({"smooth-or-featured": "smooth", "bar": "bar"}, "does not follow the tree"),
        (["smooth"], "non-empty object"),
    ],
)
def test_answers_that_do_not_follow_the_tree_are_refused(project, volunteer, answers, message):
    subject = project.subjects.first()
    with pytest.raises(InvalidInput, match=message):
        submit(project, volunteer, subject, answers)
    assert Classification.objects.count() == 0


def test_subject_of_another_project_is_not_found(make_project, volunteer):
    first = make_project(slug="first", subjects=1)
    second = make_project(slug="second", subjects=0)
    with pytest.raises(NotFound, match="Unknown subject"):
        submit(second, volunteer, first.subjects.first(), {"smooth-or-featured": "smooth"})


def test_subject_retires_at_the_limit_and_late_votes_are_kept_marked_and_not_counted(
    make_project, volunteer, other_volunteer
):
    project = make_project(slug="tiny", subjects=1, retirement_limit=1)
    subject = project.subjects.get()
    submit(project, volunteer, subject, {"smooth-or-featured": "smooth"})
    subject.refresh_from_db()
    assert subject.status == SubjectStatus.RETIRED
    late, created = submit(project, other_volunteer, subject, {"smooth-or-featured": "smooth"})
    assert created and late.after_retirement
    subject.refresh_from_db()
    assert subject.classification_count == 1
    assert subject.vote_counts == {"smooth-or-featured": {"smooth": 1}}


def test_a_submit_is_one_statement_after_the_session_and_project_are_cached(
    make_project, django_assert_num_queries
):
    project = make_project(slug="one-trip", subjects=3)
    client = Client()
    get_next(client, project)
    subject = project.subjects.first()
    with django_assert_num_queries(1):
        response = submit_through_api(client, project, subject.pk)
    assert response.status_code == 201
    subject.refresh_from_db()
    assert subject.vote_counts == {"smooth-or-featured": {"smooth": 1}}


@pytest.mark.parametrize("prepared", [True, False])
def test_submit_books_stay_exact_with_and_without_the_prepared_statement(
    make_project, settings, prepared
):
    settings.STARLING_SUBMIT_PREPARED = prepared
    project = make_project(slug="prepared", subjects=2, retirement_limit=3)
    subject = project.subjects.first()
    answers = [
        {"smooth-or-featured": "smooth"},
        {"smooth-or-featured": "featured", "bar": "bar"},
        {"smooth-or-featured": "featured", "bar": "no-bar"},
        {"smooth-or-featured": "smooth"},
    ]
    responses = [submit_through_api(Client(), project, subject.pk, given) for given in answers * 2]
    assert [r.status_code for r in responses] == [201] * 8
    assert [r.json()["after_retirement"] for r in responses] == [False] * 3 + [True] * 5
    assert_books_exact(project)
    subject.refresh_from_db()
    assert subject.classification_count == 3  # the five late votes are stored, counted nowhere
    assert subject.vote_counts == {
        "smooth-or-featured": {"smooth": 1, "featured": 2},
        "bar": {"bar": 1, "no-bar": 1},
    }


def queue_members(project) -> set[int]:
    version = type(project).objects.get(pk=project.pk).serving_version
    _, queue, _ = redis_queue.project_keys(project.pk, version)
    return {
        int(member)
        for member in redis.Redis.from_url(redis_queue.queue_redis_url()).zrange(queue, 0, -1)
    }


def seen_by(project, volunteer_id) -> set[int]:
    version = type(project).objects.get(pk=project.pk).serving_version
    seen = redis_queue._seen_key(project.pk, version, volunteer_id)
    return {
        int(member) for member in redis.Redis.from_url(redis_queue.queue_redis_url()).smembers(seen)
    }


@pytest.mark.parametrize("path", ["one statement", "orm"])
def test_both_vote_paths_keep_the_redis_queue_right(make_project, path):
    """The ORM path (the embedded SQLite default, called here on PostgreSQL) tells the queue in
    Redis what the one-statement path tells it: the volunteer has seen the subject, and a subject
    retired by the vote leaves the queue for everyone."""
    vote = {
        "one statement": submission.classification_submit,
        "orm": submission._submit_through_orm,
    }[path]
    project = make_project(slug="paths", subjects=3, retirement_limit=2)
    first, second, third = project.subjects.order_by("-priority").values_list("pk", flat=True)
    voter, other = Client(), Client()
    for client in (voter, other, voter, other):
        get_next(client, project)  # the queue built, both volunteers' seen sets loaded
    assert queue_is_built(project) and queue_members(project) == {first, second, third}
    volunteers = [Volunteer.objects.get(pk=c.session[selectors_key()][0]) for c in (voter, other)]
    project.refresh_from_db()
    tree = selectors.project_tree(project=project)
    for number, volunteer in enumerate(volunteers):
        _, created = vote(
            project=project,
            volunteer=volunteer,
            subject_id=first,
            annotations={"smooth-or-featured": "smooth"},
            idempotency_key=f"{path}-{number}",
            tree=tree,
        )
        assert created and first in seen_by(project, volunteer.pk)
        if number == 0:  # one vote of two: still queued for the other volunteer
            assert queue_members(project) == {first, second, third}
    assert Subject.objects.get(pk=first).status == SubjectStatus.RETIRED
    assert queue_members(project) == {second, third}  # retired by the vote: out of the queue
    served = get_next(Client(), project, count="3").json()["subjects"]
    assert {subject["id"] for subject in served} == {second, third}
    replayed, created = vote(
        project=project,
        volunteer=volunteers[0],
        subject_id=first,
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key=f"{path}-0",
        tree=tree,
    )
    assert not created and replayed.subject_id == first
