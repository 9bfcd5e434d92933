"""Reads of the model side: versions, rounds, what a round trains on and scores, the schedule.
The writes are rounds.py's and claims.py's; the shared reads are labelling/core/selectors.py's."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from labelling import models
from labelling.core import votes
from labelling.core.selectors import project_tree


def model_version_with_project(*, version_id: int) -> models.ModelVersion:
    return models.ModelVersion.objects.select_related("project").get(pk=version_id)


def round_picks_list(*, acquisition_round: models.AcquisitionRound | None) -> list:
    """The round's picks with their subjects, best first ([] without a round)."""
    if acquisition_round is None:
        return []
    return list(acquisition_round.picks.select_related("subject").order_by("rank"))


# --- model versions and rounds -------------------------------------------------------------------


def model_versions_recent(*, project: models.Project, count: int = 50) -> list[models.ModelVersion]:
    return list(models.ModelVersion.objects.filter(project=project).order_by("-number")[:count])


def model_versions_ready(*, project: models.Project) -> QuerySet[models.ModelVersion]:
    return models.ModelVersion.objects.filter(
        project=project, status=models.ModelVersionStatus.READY
    ).order_by("number")


def model_version_get_ready(
    *, project: models.Project, number: int | None = None
) -> models.ModelVersion | None:
    """The ready version `number`, or the latest ready one when `number` is None."""
    versions = model_versions_ready(project=project)
    if number is not None:
        return versions.filter(number=number).first()
    return versions.last()


def model_version_latest_good(*, project: models.Project) -> models.ModelVersion | None:
    """The latest ready version not marked worse than the image-free baseline and trained under
    the project's current tree version, or None."""
    return (
        models.ModelVersion.objects.filter(
            project=project,
            status=models.ModelVersionStatus.READY,
            worse_than_baseline=False,
            tree_version=project.tree_version,
        )
        .order_by("-number")
        .first()
    )


def model_version_of_run(*, project: models.Project, task_id: str) -> models.ModelVersion | None:
    """The latest version the retrain run `task_id` created, if any."""
    return (
        models.ModelVersion.objects.filter(project=project, task_id=task_id)
        .order_by("number")
        .last()
    )


def round_latest(*, project: models.Project) -> models.AcquisitionRound | None:
    return (
        models.AcquisitionRound.objects.filter(project=project)
        .select_related("model_version")
        .first()
    )


def round_exists(*, version: models.ModelVersion) -> bool:
    return models.AcquisitionRound.objects.filter(model_version=version).exists()


# --- the active-learning loop (labelling/loop/rounds.py writes) -----------------------------------------


def subject_image_paths(*, subject_ids: list[int]) -> dict[int, Path]:
    """{subject id: its image file} for the given subjects."""
    media = Path(settings.MEDIA_ROOT)
    rows = models.Subject.objects.filter(pk__in=subject_ids).values_list("pk", "image")
    return {pk: media / image for pk, image in rows}


def prediction_scores(*, version: models.ModelVersion) -> list[tuple[int, float]]:
    """[(subject id, acquisition score)] of every subject the version scored."""
    return list(
        models.Prediction.objects.filter(model_version=version).values_list("subject_id", "score")
    )


@dataclass
class TrainingSet:
    subject_ids: list[int]
    image_paths: list[Path]
    counts: dict[str, np.ndarray]  # {question: int [items, answers]}


def training_set_for_project(
    *, project: models.Project, weighted: dict[int, dict] | None = None
) -> TrainingSet:
    """Every subject with votes (withdrawn ones left out): its image and its counts per answer (N per question = row sum);
    with `weighted` ({subject id: vote counts}, labelling/crowd), those counts instead (float)."""
    tree = project_tree(project=project)
    rows = list(
        models.Subject.objects.filter(project=project, classification_count__gt=0)
        .exclude(retirement_reason=models.RetirementReason.WITHDRAWN)
        .order_by("pk")
        .values_list("pk", "image", "vote_counts")
    )
    if weighted is None:
        counts = votes.counts_arrays([vote_counts for _, _, vote_counts in rows], tree)
    else:
        counts = votes.counts_arrays(
            [weighted.get(pk, {}) for pk, _, _ in rows], tree, dtype=np.float64
        )
    media = Path(settings.MEDIA_ROOT)
    return TrainingSet([pk for pk, _, _ in rows], [media / image for _, image, _ in rows], counts)


def active_pool(*, project: models.Project) -> list[tuple[int, Path]]:
    """The active subjects and their image files, by id: what a round scores."""
    media = Path(settings.MEDIA_ROOT)
    return [
        (pk, media / image)
        for pk, image in models.Subject.objects.filter(
            project=project, status=models.SubjectStatus.ACTIVE
        )
        .order_by("pk")
        .values_list("pk", "image")
    ]


def retraining_due(*, project: models.Project, now=None) -> bool:
    """Beat's rule: enough new votes since the last version, or enough time with some new votes;
    and, either way, at least the project's minimum of labelled subjects (a first model trained on
    a few subjects is judged on fewer still). Never for an archived project."""
    if project.archived_at is not None:
        return False
    now = now or timezone.now()
    latest = models.ModelVersion.objects.filter(project=project).order_by("-number").first()
    total = models.Classification.objects.filter(project=project).count()
    new_votes = total - (latest.classifications_at_start if latest else 0)
    if new_votes <= 0 or not labelled_subjects_enough(project=project):
        return False
    if project.retrain_after_new_votes and new_votes >= project.retrain_after_new_votes:
        return True
    if latest is not None and project.retrain_after_minutes:
        return now - latest.created_at >= timedelta(minutes=project.retrain_after_minutes)
    return False


def labelled_subjects_count(*, project: models.Project) -> tuple[int, int]:
    """(subjects with at least one vote, all subjects) of the project, withdrawn ones left out:
    what a round trains on."""
    counts = (
        models.Subject.objects.filter(project=project)
        .exclude(retirement_reason=models.RetirementReason.WITHDRAWN)
        .aggregate(labelled=Count("pk", filter=Q(classification_count__gt=0)), total=Count("pk"))
    )
    return counts["labelled"], counts["total"]


def labelled_subjects_enough(*, project: models.Project) -> bool:
    """Whether the project has its minimum of labelled subjects (all its subjects, if fewer)."""
    labelled, total = labelled_subjects_count(project=project)
    return labelled >= min(project.retrain_minimum_labelled_subjects, total)
