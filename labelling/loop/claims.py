"""A project's retrain claim: one retrain at a time, taken by compare-and-set, kept alive by a
heartbeat, released by the run that holds it, reaped by beat when its lease expired. Every write to
the claim and every reading of its lease is here; the loop's tasks and rounds and the retrain
command call these."""

import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labelling.models import (
    ModelVersion,
    ModelVersionStatus,
    Project,
    RetrainState,
)

logger = logging.getLogger(__name__)
RETRAIN_TASK = "labelling.loop.tasks.retrain"
# A ready version whose run lost its claim before its round was recorded carries this error.
ROUND_ABANDONED = "round abandoned: the retrain's lease expired before its round was recorded"


UNCLAIMED = {"retrain_state": RetrainState.IDLE, "retrain_claimed_at": None, "retrain_token": ""}


class ClaimLost(RuntimeError):
    """A retrain run found the project's claim held by another, newer run."""


def lease() -> timedelta:
    return timedelta(seconds=settings.STARLING_RETRAIN_LEASE_SECONDS)


def lease_expired(claimed_at) -> bool:
    """A claim taken or last refreshed at `claimed_at` (None: never) is stale: its run died."""
    return claimed_at is None or claimed_at < timezone.now() - lease()


def retrain_request(*, project: Project) -> bool:
    """Claim the project's retrain slot (compare-and-set) and queue the retrain task.

    The claim's token is the task's id: only that run may release it. Returns False when a retrain
    is already queued or running and its lease is fresh. A stale claim (its worker died) is taken
    over: its orphaned 'training' version is marked failed, a version left without its round is
    marked abandoned.
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        claimed = (
            Project.objects.filter(pk=project.pk)
            .filter(Q(retrain_state=RetrainState.IDLE) | Q(retrain_claimed_at__lt=now - lease()))
            .update(retrain_state=RetrainState.QUEUED, retrain_claimed_at=now, retrain_token=token)
        )
        if not claimed:
            return False
        _versions_abandon(project_id=project.pk, now=now)
        transaction.on_commit(lambda: _send_retrain(project.pk, token))
    return True


def _versions_abandon(*, project_id: int, now) -> None:
    """Close the versions of runs whose claim was lost: training ones failed, ready ones without a
    round marked abandoned (their model stays usable; a late round of theirs reorders nothing)."""
    ModelVersion.objects.filter(project_id=project_id, status=ModelVersionStatus.TRAINING).update(
        status=ModelVersionStatus.FAILED,
        error="worker lost: the retrain's lease expired before it finished",
        finished_at=now,
    )
    ModelVersion.objects.filter(
        project_id=project_id,
        status=ModelVersionStatus.READY,
        acquisition_round__isnull=True,
        worse_than_baseline=False,  # those never get a round, by design
    ).filter(error="").update(error=ROUND_ABANDONED)


def _send_retrain(project_id: int, token: str) -> None:
    current_app.send_task(RETRAIN_TASK, args=[project_id], queue="ml", task_id=token)


def retrain_hold(*, project: Project, token: str) -> None:
    """The run `token` holds the project's claim from now on (running, lease fresh): it held it
    already, or takes it because the project is idle or the claim is stale. Raises ClaimLost when
    another run's fresh claim holds it. The caller holds the project's row locked."""
    if (
        project.retrain_token != token
        and project.retrain_state != RetrainState.IDLE
        and not lease_expired(project.retrain_claimed_at)
    ):
        raise ClaimLost(
            f"Retrain run {token!r} of project {project.slug!r} does not hold the claim: "
            f"expected token {token!r}, found {project.retrain_token!r} ({project.retrain_state})"
        )
    Project.objects.filter(pk=project.pk).update(
        retrain_state=RetrainState.RUNNING, retrain_claimed_at=timezone.now(), retrain_token=token
    )


def retrain_heartbeat(*, project_id: int, token: str | None = None) -> None:
    """Refresh the lease while a retrain makes progress: the claim whoever holds it, or only the
    claim `token` holds when given."""
    claimed = Project.objects.filter(pk=project_id)
    if token is not None:
        claimed = claimed.filter(retrain_token=token)
    claimed.exclude(retrain_state=RetrainState.IDLE).update(retrain_claimed_at=timezone.now())


def retrain_release(*, project_id: int, token: str) -> bool:
    """Release the claim if `token` still holds it (compare-and-set); False if another run's."""
    return bool(
        Project.objects.filter(pk=project_id, retrain_token=token)
        .exclude(retrain_state=RetrainState.IDLE)
        .update(**UNCLAIMED)
    )


def retrain_reap_stale(*, project: Project) -> bool:
    """Beat's watchdog: a claim whose lease expired (its worker died mid-training or mid-scoring)
    is released and its run's versions closed, within one lease of the death rather than after
    the broker's redelivery. Returns True when a stale claim was reaped."""
    now = timezone.now()
    with transaction.atomic():
        reaped = (
            Project.objects.filter(pk=project.pk, retrain_claimed_at__lt=now - lease())
            .exclude(retrain_state=RetrainState.IDLE)
            .update(**UNCLAIMED)
        )
        if reaped:
            _versions_abandon(project_id=project.pk, now=now)
            logger.warning("project %s: retrain claim's lease expired; released", project.pk)
    return bool(reaped)
