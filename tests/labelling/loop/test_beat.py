from datetime import timedelta

import pytest
from django.utils import timezone

from labelling.loop import model_selectors
from labelling.loop.tasks import check_retraining_schedules
from labelling.models import ModelVersion, Project, RetrainState
from labelling.volunteer import accounts, submission


def vote(project, count, prefix="v"):
    for index, subject in enumerate(project.subjects.order_by("pk")[:count]):
        volunteer = accounts.volunteer_get_or_create(session_key=f"{prefix}-{index}")
        submission.classification_submit(
            project=project,
            volunteer=volunteer,
            subject_id=subject.pk,
            annotations={"smooth-or-featured": "smooth"},
            idempotency_key="k",
        )


@pytest.mark.django_db
def test_beat_rule_waits_for_enough_new_votes(make_project):
    project = make_project(
        slug="beat-votes",
        subjects=6,
        retrain_after_new_votes=5,
        retrain_after_minutes=0,
        retrain_minimum_labelled_subjects=0,
    )
    vote(project, 4)
    assert not model_selectors.retraining_due(project=project)
    vote(project, 5, prefix="w")
    assert model_selectors.retraining_due(project=project)


@pytest.mark.django_db
def test_beat_rule_counts_votes_since_the_last_version_and_time_since_it(make_project):
    project = make_project(
        slug="beat-time",
        subjects=6,
        retrain_after_new_votes=5,
        retrain_after_minutes=30,
        retrain_minimum_labelled_subjects=6,
    )
    vote(project, 6)
    version = ModelVersion.objects.create(
        project=project, number=1, status="ready", classifications_at_start=6
    )
    assert not model_selectors.retraining_due(project=project)  # no new votes at all
    vote(project, 1, prefix="late")
    assert not model_selectors.retraining_due(project=project)  # one new vote, and only just now
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - timedelta(minutes=31)
    )
    assert model_selectors.retraining_due(
        project=project
    )  # enough time has passed, with a new vote


@pytest.mark.django_db
def test_beat_task_claims_only_due_projects_and_never_twice(make_project):
    due = make_project(
        slug="beat-due", subjects=3, retrain_after_new_votes=2, retrain_minimum_labelled_subjects=3
    )
    idle = make_project(slug="beat-idle", subjects=3, retrain_after_new_votes=50)
    vote(due, 3)
    vote(idle, 3, prefix="i")
    assert check_retraining_schedules() == [due.pk]
    assert Project.objects.get(pk=due.pk).retrain_state == RetrainState.QUEUED
    assert Project.objects.get(pk=idle.pk).retrain_state == RetrainState.IDLE
    assert check_retraining_schedules() == []  # already claimed


@pytest.mark.django_db
def test_a_first_retrain_does_not_start_below_the_labelled_subject_minimum(make_project):
    project = make_project(
        slug="beat-minimum",
        subjects=6,
        retrain_after_new_votes=5,
        retrain_after_minutes=0,
        retrain_minimum_labelled_subjects=4,
    )
    for prefix in "abcdefgh":  # 24 votes, enough five times over, all on the same 3 subjects
        vote(project, 3, prefix=prefix)
    assert not model_selectors.retraining_due(project=project)
    assert check_retraining_schedules() == []
    assert Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE
    vote(project, 4, prefix="z")  # a 4th subject gets its first vote
    assert check_retraining_schedules() == [project.pk]
    # A project with fewer subjects than the minimum waits until all of them have votes.
    Project.objects.filter(pk=project.pk).update(retrain_minimum_labelled_subjects=100)
    project.refresh_from_db()
    assert not model_selectors.retraining_due(project=project)
    vote(project, 6, prefix="all")
    assert model_selectors.retraining_due(project=project)


@pytest.mark.django_db
def test_a_first_model_at_the_minimum_does_not_wait_for_the_cadence_and_later_ones_do(make_project):
    project = make_project(
        slug="beat-first",
        subjects=6,
        retrain_after_new_votes=50,
        retrain_after_minutes=0,
        retrain_minimum_labelled_subjects=4,
    )
    vote(project, 3)
    vote(project, 4, prefix="w")  # 7 votes, 4 subjects labelled: the minimum, not the cadence
    assert not model_selectors.retraining_due(project=project)  # Project's default: both
    Project.objects.filter(pk=project.pk).update(retrain_first_at_minimum=True)
    project.refresh_from_db()
    assert model_selectors.retraining_due(project=project)
    ModelVersion.objects.create(
        project=project, number=1, status="ready", classifications_at_start=7
    )
    vote(project, 6, prefix="x")
    assert not model_selectors.retraining_due(project=project)  # a second model: the cadence
