"""The active-learning loop's writes: claim, model versions, predictions, rounds.

Its reads (training set, pool, schedule) are in labelling/selectors.py.

No TensorFlow here: mlworker.tasks calls these around the ML; web calls `retrain_request`.
"""

import logging
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from labelling import queue
from labelling.models import (
    ROUND_PRIORITY_BASE,
    AcquisitionPick,
    AcquisitionRound,
    Classification,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    Project,
    RetirementRule,
    RetrainState,
    Subject,
)

logger = logging.getLogger(__name__)
RETRAIN_TASK = "mlworker.tasks.retrain"
# Priorities: a round's picks get ROUND_PRIORITY_BASE + (batch - rank); everyone else their score
# (mutual information, far below the base); before any model, priorities are random in [0, 1).
# The base lives in models.py (the vote reads it too: Classification.requested_by_model).
ROUND_ABANDONED = "round abandoned: the retrain's lease expired before its round was recorded"


UNCLAIMED = {"retrain_state": RetrainState.IDLE, "retrain_claimed_at": None, "retrain_token": ""}


class ClaimLost(RuntimeError):
    """A retrain run found the project's claim held by another, newer run."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.STARLING_RETRAIN_LEASE_SECONDS)


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
            .filter(Q(retrain_state=RetrainState.IDLE) | Q(retrain_claimed_at__lt=now - _lease()))
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


def _send_retirement_check(project_id: int) -> None:
    from labelling.tasks import check_retirements

    check_retirements.apply_async(kwargs={"project_id": project_id, "recheck_all": True})


def _send_retrain(project_id: int, token: str) -> None:
    from labelling.celery import app

    app.send_task(RETRAIN_TASK, args=[project_id], queue="ml", task_id=token)


def retrain_heartbeat(*, project_id: int) -> None:
    """Refresh the lease while a retrain makes progress."""
    Project.objects.filter(pk=project_id).exclude(retrain_state=RetrainState.IDLE).update(
        retrain_claimed_at=timezone.now()
    )


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
            Project.objects.filter(pk=project.pk, retrain_claimed_at__lt=now - _lease())
            .exclude(retrain_state=RetrainState.IDLE)
            .update(**UNCLAIMED)
        )
        if reaped:
            _versions_abandon(project_id=project.pk, now=now)
            logger.warning("project %s: retrain claim's lease expired; released", project.pk)
    return bool(reaped)


@transaction.atomic
def model_version_start(*, project_id: int, task_id: str) -> ModelVersion:
    """Register the version this retrain run builds (status training).

    The run must hold the project's claim (token == task id), or take it when the project is idle
    or the claim is stale; a run whose claim was taken over raises ClaimLost. A redelivered task
    (its worker died) finds its earlier version: if still 'training', that one is marked failed
    and a new version starts; if it already finished, it is returned unchanged.
    """
    project = Project.objects.select_for_update().get(pk=project_id)
    earlier = (
        ModelVersion.objects.filter(project=project, task_id=task_id).order_by("-number").first()
    )
    if earlier is not None and earlier.status != ModelVersionStatus.TRAINING:
        return earlier
    stale = project.retrain_claimed_at is None or project.retrain_claimed_at < (
        timezone.now() - _lease()
    )
    if (
        project.retrain_token != task_id
        and project.retrain_state != RetrainState.IDLE
        and not stale
    ):
        raise ClaimLost(
            f"Retrain run {task_id!r} of project {project.slug!r} does not hold the claim: "
            f"expected token {task_id!r}, found {project.retrain_token!r} ({project.retrain_state})"
        )
    if earlier is not None:
        earlier.status = ModelVersionStatus.FAILED
        earlier.error = "worker lost mid-training; the task was redelivered and retried"
        earlier.finished_at = timezone.now()
        earlier.save(update_fields=["status", "error", "finished_at"])
    number = (
        ModelVersion.objects.filter(project=project).aggregate(Max("number"))["number__max"] or 0
    ) + 1
    Project.objects.filter(pk=project.pk).update(
        retrain_state=RetrainState.RUNNING, retrain_claimed_at=timezone.now(), retrain_token=task_id
    )
    return ModelVersion.objects.create(
        project=project,
        number=number,
        task_id=task_id,
        classifications_at_start=Classification.objects.filter(project=project).count(),
    )


def model_version_ready(
    *,
    version: ModelVersion,
    artefact_path: Path,
    metrics: dict,
    timings: dict,
    training_set_size: int,
    config: dict,
    device: str,
    worse_than_baseline: bool = False,
    started_from: str = "",
) -> None:
    """Mark a version ready — only after its artefact is completely saved."""
    ModelVersion.objects.filter(pk=version.pk, status=ModelVersionStatus.TRAINING).update(
        status=ModelVersionStatus.READY,
        artefact_path=str(artefact_path),
        metrics=metrics,
        timings=timings,
        training_set_size=training_set_size,
        config=config,
        device=device,
        worse_than_baseline=worse_than_baseline,
        started_from=started_from[:300],
        finished_at=timezone.now(),
    )


def model_version_fail(
    *, version_id: int | None, project_id: int, error: str, token: str | None = None
) -> None:
    """Mark the run's version failed and release its claim: the version's own token, or `token`
    when the run failed before it had a version (None: nothing to release; the lease expires)."""
    with transaction.atomic():
        if version_id is not None:
            ModelVersion.objects.filter(pk=version_id).exclude(
                status=ModelVersionStatus.FAILED
            ).update(
                status=ModelVersionStatus.FAILED, error=error[:5000], finished_at=timezone.now()
            )
            token = ModelVersion.objects.values_list("task_id", flat=True).get(pk=version_id)
        if token is not None:
            retrain_release(project_id=project_id, token=token)


def model_version_add_timings(*, version_id: int, timings: dict) -> None:
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        version.timings = {**version.timings, **timings}
        version.save(update_fields=["timings"])


def predictions_write(*, version_id: int, rows: list[dict]) -> int:
    """Bulk upsert Prediction rows ({subject_id, per_question, samples, score}); idempotent.
    Each chunk written refreshes its run's lease (only its own claim)."""
    Prediction.objects.bulk_create(
        [Prediction(model_version_id=version_id, **row) for row in rows],
        batch_size=500,
        update_conflicts=True,
        unique_fields=["model_version", "subject"],
        update_fields=["per_question", "samples", "score"],
    )
    project_id, token = ModelVersion.objects.values_list("project_id", "task_id").get(pk=version_id)
    Project.objects.filter(pk=project_id, retrain_token=token).exclude(
        retrain_state=RetrainState.IDLE
    ).update(retrain_claimed_at=timezone.now())
    return len(rows)


def round_picks(
    *,
    scored_ids: np.ndarray,
    picked: np.ndarray,
    batch_size: int,
    exploration_share: float,
    rng: np.random.Generator,
) -> list[tuple[int, bool]]:
    """The round's ordered picks [(subject_id, is_exploration)]: strategy picks with random
    exploration picks from the rest mixed in at evenly spaced ranks."""
    batch_size = min(batch_size, len(scored_ids))
    explore = int(round(exploration_share * batch_size))
    chosen = [int(scored_ids[i]) for i in picked[: batch_size - explore]]
    rest = np.setdiff1d(scored_ids, chosen)
    exploration = [int(x) for x in rng.permutation(rest)[:explore]]
    ordered: list[tuple[int, bool]] = [(subject_id, False) for subject_id in chosen]
    for position, subject_id in enumerate(exploration):
        rank = int((position + 1) * len(ordered) / (len(exploration) + 1)) + position
        ordered.insert(min(rank, len(ordered)), (subject_id, True))
    return ordered


@transaction.atomic
def round_record(
    *, version: ModelVersion, picks: list[tuple[int, bool]], scores: dict[int, float]
) -> AcquisitionRound:
    """Record the round and reorder the queue: picks first, then everyone else by score."""
    project = version.project
    existing = AcquisitionRound.objects.filter(model_version=version).first()
    if existing is not None:  # a redelivered select_round: the round stands
        return existing
    acquisition_round = AcquisitionRound.objects.create(
        project=project,
        model_version=version,
        strategy=project.acquisition_strategy,
        batch_size=project.acquisition_batch_size,
        exploration_share=project.exploration_share,
    )
    AcquisitionPick.objects.bulk_create(
        [
            AcquisitionPick(
                acquisition_round=acquisition_round,
                subject_id=subject_id,
                rank=rank,
                score=scores.get(subject_id, 0.0),
                is_exploration=is_exploration,
            )
            for rank, (subject_id, is_exploration) in enumerate(picks, start=1)
        ]
    )
    priorities = dict(scores)
    for rank, (subject_id, _) in enumerate(picks, start=1):
        priorities[subject_id] = ROUND_PRIORITY_BASE + len(picks) - rank
    superseded = AcquisitionRound.objects.filter(
        project=project, model_version__number__gt=version.number
    ).exists()
    # The dead run's leftover chunks may still finish on another worker after beat abandoned it.
    abandoned = ModelVersion.objects.filter(pk=version.pk, error=ROUND_ABANDONED).exists()
    if superseded or abandoned:  # a late round: recorded, but the queue's order stands
        logger.warning("round of %s recorded late; the queue's order stands", version)
    else:
        subjects_set_priorities(priorities=priorities)
        transaction.on_commit(lambda: queue.after_round(project_id=project.pk))
    if project.retirement_rule == RetirementRule.MODEL_AWARE:  # new samples: check every subject
        transaction.on_commit(lambda: _send_retirement_check(project.pk))
    retrain_release(project_id=project.pk, token=version.task_id)
    return acquisition_round


def subjects_set_priorities(*, priorities: dict[int, float]) -> None:
    """Write many priorities at once: on PostgreSQL one UPDATE ... FROM unnest() per 50,000 rows,
    elsewhere Django's bulk_update in batches."""
    if connection.vendor == "postgresql":
        items = list(priorities.items())
        with connection.cursor() as cursor:
            for start in range(0, len(items), 50_000):
                batch = items[start : start + 50_000]
                cursor.execute(
                    "UPDATE labelling_subject AS subject SET priority = new.priority"
                    " FROM unnest(%s::bigint[], %s::double precision[]) AS new(id, priority)"
                    " WHERE subject.id = new.id",
                    [[pk for pk, _ in batch], [value for _, value in batch]],
                )
        return
    Subject.objects.bulk_update(
        [Subject(pk=pk, priority=value) for pk, value in priorities.items()],
        ["priority"],
        batch_size=1000,
    )
