"""Retrain claims are compare-and-set on the run's token: a run releases only its own claim, and a
claim whose lease expired is reaped by beat's check within one lease, not after the broker's
visibility timeout."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from labelling.loop import claims, model_selectors, rounds
from labelling.loop.tasks import check_retraining_schedules
from labelling.models import (
    AcquisitionRound,
    ModelVersion,
    ModelVersionStatus,
    Project,
    RetrainState,
)

pytestmark = pytest.mark.django_db


def claim(project) -> str:
    """Request a retrain (the task is never sent: the test's transaction is not committed)."""
    assert claims.retrain_request(project=project)
    return Project.objects.values_list("retrain_token", flat=True).get(pk=project.pk)


def expire_lease(project, settings) -> None:
    Project.objects.filter(pk=project.pk).update(
        retrain_claimed_at=timezone.now()
        - timedelta(seconds=settings.STARLING_RETRAIN_LEASE_SECONDS + 1)
    )


def ready_version(project, token) -> ModelVersion:
    version = rounds.model_version_start(project_id=project.pk, task_id=token)
    rounds.model_version_mark_ready(
        version=version,
        artefact_path=f"/nowhere/{token}",
        metrics={},
        timings={},
        training_set_size=0,
        config={},
        device="CPU",
    )
    version.refresh_from_db()
    return version


def record_round(version, subject_ids) -> None:
    picks = [(subject_id, False) for subject_id in subject_ids]
    rounds.round_record(version=version, picks=picks, scores={pk: 0.0 for pk in subject_ids})


def test_a_late_round_of_an_old_version_leaves_the_newer_claim_alone(project, settings):
    old_token = claim(project)
    old = ready_version(project, old_token)  # trained, then its worker died mid-scoring
    expire_lease(project, settings)
    new_token = claim(project)  # takes over the stale claim
    new = rounds.model_version_start(project_id=project.pk, task_id=new_token)

    record_round(old, list(project.subjects.values_list("pk", flat=True)))

    project.refresh_from_db()
    assert (project.retrain_state, project.retrain_token) == (RetrainState.RUNNING, new_token)
    assert new.number == old.number + 1
    assert claims.retrain_release(project_id=project.pk, token=old_token) is False
    assert claims.retrain_release(project_id=project.pk, token=new_token) is True
    assert Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE


def test_a_late_round_of_an_old_version_does_not_reorder_a_newer_rounds_queue(project, settings):
    subject_ids = list(project.subjects.order_by("pk").values_list("pk", flat=True))
    old_token = claim(project)
    old = ready_version(project, old_token)
    expire_lease(project, settings)
    new = ready_version(project, claim(project))
    record_round(new, subject_ids)
    newer_order = list(project.subjects.order_by("-priority").values_list("pk", flat=True))

    record_round(old, list(reversed(subject_ids)))

    assert AcquisitionRound.objects.filter(model_version=old).exists()  # kept for the record
    assert list(project.subjects.order_by("-priority").values_list("pk", flat=True)) == (
        newer_order
    )
    assert newer_order == subject_ids


def test_a_late_round_of_an_abandoned_version_does_not_reorder_the_queue(project, settings):
    """Beat abandoned the dead run's round; its leftover chunks then finished on another worker."""
    subject_ids = list(project.subjects.order_by("pk").values_list("pk", flat=True))
    first = ready_version(project, claim(project))
    record_round(first, subject_ids)
    order = list(project.subjects.order_by("-priority").values_list("pk", flat=True))
    abandoned = ready_version(project, claim(project))
    expire_lease(project, settings)
    check_retraining_schedules()  # beat's watchdog
    abandoned.refresh_from_db()
    assert abandoned.error == claims.ROUND_ABANDONED

    record_round(abandoned, list(reversed(subject_ids)))

    assert AcquisitionRound.objects.filter(model_version=abandoned).exists()  # for the record
    assert list(project.subjects.order_by("-priority").values_list("pk", flat=True)) == order


def test_taking_over_a_stale_claim_marks_the_dead_runs_versions(project, settings):
    training = rounds.model_version_start(project_id=project.pk, task_id=claim(project))
    expire_lease(project, settings)
    scoring = ready_version(project, claim(project))
    expire_lease(project, settings)
    claim(project)
    training.refresh_from_db()
    scoring.refresh_from_db()
    assert training.status == ModelVersionStatus.FAILED and "worker lost" in training.error
    assert scoring.status == ModelVersionStatus.READY and scoring.error == claims.ROUND_ABANDONED


def test_a_run_whose_claim_was_taken_over_does_not_start(project, settings):
    old_token = claim(project)
    expire_lease(project, settings)
    new_token = claim(project)
    with pytest.raises(claims.ClaimLost, match=f"found {new_token!r}"):
        rounds.model_version_start(project_id=project.pk, task_id=old_token)
    assert not ModelVersion.objects.filter(project=project).exists()
    # Its failure handler releases nothing: the claim is the newer run's.
    rounds.model_version_fail(version_id=None, project_id=project.pk, error="x", token=old_token)
    assert Project.objects.get(pk=project.pk).retrain_token == new_token


def test_a_run_failing_before_its_version_releases_its_own_claim(project):
    token = claim(project)
    rounds.model_version_fail(version_id=None, project_id=project.pk, error="x", token=token)
    project.refresh_from_db()
    assert (project.retrain_state, project.retrain_token) == (RetrainState.IDLE, "")


def test_beat_reaps_a_claim_whose_lease_expired_mid_scoring(project, settings):
    Project.objects.filter(pk=project.pk).update(retrain_after_new_votes=0, retrain_after_minutes=0)
    version = ready_version(project, claim(project))
    check_retraining_schedules()
    assert Project.objects.get(pk=project.pk).retrain_state == RetrainState.RUNNING  # fresh lease

    expire_lease(project, settings)
    check_retraining_schedules()

    project.refresh_from_db()
    version.refresh_from_db()
    assert (project.retrain_state, project.retrain_token) == (RetrainState.IDLE, "")
    assert version.error == claims.ROUND_ABANDONED


def test_scoring_progress_refreshes_only_its_own_runs_lease(project, settings):
    version = ready_version(project, claim(project))
    expire_lease(project, settings)
    rounds.predictions_write(version_id=version.pk, rows=[])
    assert not claims.retrain_reap_stale(project=Project.objects.get(pk=project.pk))

    expire_lease(project, settings)
    newer = claim(project)
    stale_at = timezone.now() - timedelta(seconds=settings.STARLING_RETRAIN_LEASE_SECONDS + 1)
    Project.objects.filter(pk=project.pk).update(retrain_claimed_at=stale_at)
    rounds.predictions_write(version_id=version.pk, rows=[])  # the old run's late chunk
    project.refresh_from_db()
    assert project.retrain_token == newer and project.retrain_claimed_at == stale_at


def test_retrain_wait_ends_when_the_run_makes_no_progress_without_a_version(project, settings):
    settings.STARLING_RETRAIN_LEASE_SECONDS = 2  # no worker takes the task here
    with pytest.raises(CommandError, match="made no progress for more than the lease"):
        call_command("retrain", project.slug, "--wait", "--timeout", "30", stdout=StringIO())
    assert not ModelVersion.objects.filter(project=project).exists()


def test_retrain_wait_has_a_time_limit(project, settings):
    with pytest.raises(CommandError, match="Timed out after 2 s"):
        call_command("retrain", project.slug, "--wait", "--timeout", "2", stdout=StringIO())


def test_retrain_wait_reports_success_when_the_round_lands_between_its_reads(project, monkeypatch):
    """Force the interleaving that made `retrain --wait` report a failure: the run records its
    round and releases its claim just after the command found no round."""
    real_version_of_run, real_round_exists = (
        model_selectors.model_version_of_run,
        model_selectors.round_exists,
    )
    finished = []

    def version_of_run(*, project, task_id):
        if not ModelVersion.objects.filter(project=project, task_id=task_id).exists():
            ready_version(project, task_id)  # trained; its round is still being selected
        return real_version_of_run(project=project, task_id=task_id)

    def round_exists(*, version):
        found = real_round_exists(version=version)
        if not found and not finished:  # the worker finishes right after this read
            record_round(version, list(project.subjects.values_list("pk", flat=True)))
            finished.append(version)
        return found

    monkeypatch.setattr(model_selectors, "model_version_of_run", version_of_run)
    monkeypatch.setattr(model_selectors, "round_exists", round_exists)
    out = StringIO()
    call_command("retrain", project.slug, "--wait", "--timeout", "30", stdout=out)
    assert finished and "model version 1 ready; round recorded" in out.getvalue()
    assert Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE
