import pytest

from labelling.core import votes
from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.models import Classification, SubjectStatus
from labelling.queue import choice
from labelling.volunteer import submission


def submit(project, volunteer, subject, answers, key="k1"):
    return submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=subject.pk,
        annotations=answers,
        idempotency_key=key,
    )


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_replay_of_same_idempotency_key_returns_the_stored_classification(project, volunteer):
    subject = project.subjects.first()
    first, created = submit(project, volunteer, subject, {"smooth-or-featured": "smooth"})
    again, created_again = submit(project, volunteer, subject, {"smooth-or-featured": "smooth"})
    assert created and not created_again
    assert first.pk == again.pk
    assert Classification.objects.count() == 1


@pytest.mark.django_db
def test_second_vote_by_same_volunteer_is_refused(project, volunteer):
    subject = project.subjects.first()
    submit(project, volunteer, subject, {"smooth-or-featured": "smooth"}, key="a")
    with pytest.raises(Conflict, match="already classified"):
        submit(project, volunteer, subject, {"smooth-or-featured": "smooth"}, key="b")


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_subject_of_another_project_is_not_found(make_project, volunteer):
    first = make_project(slug="first", subjects=1)
    second = make_project(slug="second", subjects=0)
    with pytest.raises(NotFound, match="Unknown subject"):
        submit(second, volunteer, first.subjects.first(), {"smooth-or-featured": "smooth"})


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_next_subject_skips_classified_and_retired(make_project, volunteer):
    project = make_project(slug="queue", subjects=3, retirement_limit=2)
    subjects = list(project.subjects.order_by("pk"))
    submit(project, volunteer, subjects[0], {"smooth-or-featured": "smooth"})
    project.subjects.filter(pk=subjects[1].pk).update(status=SubjectStatus.RETIRED)
    seen = {
        choice.subject_next_from_database(project=project, volunteer=volunteer).pk
        for _ in range(20)
    }
    assert seen == {subjects[2].pk}
