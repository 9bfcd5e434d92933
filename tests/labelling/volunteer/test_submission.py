"""A volunteer's vote (labelling/volunteer/submission.py): counts kept in step with the raw rows,
the replay of an idempotency key, the refusals, retirement at the limit. Real PostgreSQL and real
Redis."""

import pytest
from django.test import Client

from labelling.core import votes
from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.models import Classification, SubjectStatus
from labelling.volunteer import submission
from tests.labelling.api_calls import assert_books_exact, get_next
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


def test_subject_retires_at_the_limit_and_late_votes_are_kept_and_marked(
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
    assert subject.classification_count == 2


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
    assert subject.vote_counts == {
        "smooth-or-featured": {"smooth": 4, "featured": 4},
        "bar": {"bar": 2, "no-bar": 2},
    }
