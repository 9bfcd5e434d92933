"""The active-learning loop's writes around the ML: model versions, predictions, rounds and the
priorities a round writes. The retrain claim is in claims.py, the reads in model_selectors.py, the
Celery tasks that call these around `mlworker.pipeline` in tasks.py. No TensorFlow here.
"""

import logging
from pathlib import Path

import numpy as np
from celery import current_app
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from labelling.loop import claims
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
    Subject,
)
from labelling.queue import builder

logger = logging.getLogger(__name__)
RETIREMENT_CHECK_TASK = "labelling.retirement.tasks.check_retirements"


def _send_retirement_check(project_id: int) -> None:
    """Model-aware retirement re-checks every active subject with the round's new samples."""
    # By name (the retirement package sits above this one); a signature, unlike send_task, runs
    # the task at once where task_always_eager is set.
    current_app.signature(
        RETIREMENT_CHECK_TASK, kwargs={"project_id": project_id, "recheck_all": True}
    ).apply_async()


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
    claims.retrain_hold(project=project, token=task_id)
    if earlier is not None:
        earlier.status = ModelVersionStatus.FAILED
        earlier.error = "worker lost mid-training; the task was redelivered and retried"
        earlier.finished_at = timezone.now()
        earlier.save(update_fields=["status", "error", "finished_at"])
    number = (
        ModelVersion.objects.filter(project=project).aggregate(Max("number"))["number__max"] or 0
    ) + 1
    return ModelVersion.objects.create(
        project=project,
        number=number,
        task_id=task_id,
        classifications_at_start=Classification.objects.filter(project=project).count(),
        tree_version=project.tree_version,
    )


def model_version_mark_ready(
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
            claims.retrain_release(project_id=project_id, token=token)


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
    claims.retrain_heartbeat(project_id=project_id, token=token)
    return len(rows)


def round_picks_choose(
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
    # Picks get ROUND_PRIORITY_BASE + (batch - rank), everyone else their score (far below the
    # base; the vote reads the base too: Classification.requested_by_model).
    priorities = dict(scores)
    for rank, (subject_id, _) in enumerate(picks, start=1):
        priorities[subject_id] = ROUND_PRIORITY_BASE + len(picks) - rank
    superseded = AcquisitionRound.objects.filter(
        project=project, model_version__number__gt=version.number
    ).exists()
    # The dead run's leftover chunks may still finish on another worker after beat abandoned it.
    abandoned = ModelVersion.objects.filter(pk=version.pk, error=claims.ROUND_ABANDONED).exists()
    if superseded or abandoned:  # a late round: recorded, but the queue's order stands
        logger.warning("round of %s recorded late; the queue's order stands", version)
    else:
        subjects_set_priorities(priorities=priorities)
        transaction.on_commit(lambda: builder.after_round(project_id=project.pk))
    if project.retirement_rule == RetirementRule.MODEL_AWARE:  # new samples: check every subject
        transaction.on_commit(lambda: _send_retirement_check(project.pk))
    claims.retrain_release(project_id=project.pk, token=version.task_id)
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
