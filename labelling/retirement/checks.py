"""Model-aware retirement against the database: which subjects to check, the samples to check them
with, and the compare-and-set that retires them. The maths is labelling/retirement/rule.py (NumPy).

Runs in the light Celery task `labelling.retirement.tasks.check_retirements` (every beat tick, and after each
round), never on the submit path: a vote stays one SQL statement.
"""

import logging
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labelling.core import votes
from labelling.core.selectors import project_tree
from labelling.crowd import crowd_selectors
from labelling.loop.model_selectors import model_version_latest_good
from labelling.models import (
    Prediction,
    Project,
    RetirementReason,
    RetirementRule,
    Subject,
    SubjectStatus,
)
from labelling.queue import redis_queue
from labelling.retirement import rule as retirement

logger = logging.getLogger(__name__)
BATCH = 500


@dataclass
class RetirementCheck:
    """What one pass over a project did."""

    version: int | None = None  # the model version number whose samples were used
    checked: int = 0
    retired: list[int] = field(default_factory=list)


def rule_for(project: Project) -> retirement.Rule:
    return retirement.Rule(
        limit=project.retirement_limit,
        threshold=project.retirement_threshold,
        minimum_votes=project.retirement_minimum_votes,
        max_expected_change=project.retirement_max_expected_change,
    )


def samples_from_prediction(samples: dict) -> dict[str, np.ndarray]:
    """Prediction.samples {question: [[p per answer] per sample]} -> {question: [T, answers]}."""
    return {key: np.asarray(value, dtype=np.float64) for key, value in samples.items()}


def subjects_retire_settled(*, project: Project, recheck_all: bool = False) -> RetirementCheck:
    """Check the project's active subjects with votes the last check has not seen (every active
    subject with enough votes when `recheck_all`: a new round brought new samples) and retire
    the settled ones. Does nothing unless the project's rule is model-aware and it has a model
    version that is not worse than the baseline."""
    report = RetirementCheck()
    if project.retirement_rule != RetirementRule.MODEL_AWARE:
        return report
    version = model_version_latest_good(project=project)
    if version is None:
        return report
    report.version = version.number
    tree = project_tree(project=project)
    questions = tree.head_questions()
    rule = rule_for(project)
    candidates = Subject.objects.filter(
        project=project,
        status=SubjectStatus.ACTIVE,
        classification_count__gte=rule.minimum_votes,
    )
    if not recheck_all:
        candidates = candidates.filter(classification_count__gt=F("retirement_checked_votes"))
    last = 0
    while True:
        rows = list(
            candidates.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "classification_count", "vote_counts", "untrusted_count")[:BATCH]
        )
        if not rows:
            return report
        last = rows[-1][0]
        rows = _trusted_only(project, rows)
        samples = dict(
            Prediction.objects.filter(
                model_version=version, subject_id__in=[row[0] for row in rows]
            ).values_list("subject_id", "samples")
        )
        report.retired += _check_batch(project, version, tree, questions, rule, rows, samples)
        report.checked += len(rows)


def _trusted_only(project, rows) -> list[tuple]:
    """(pk, classifications, vote counts, trusted classifications): a subject some untrusted
    volunteers voted on is judged on the other volunteers' votes alone (labelling/crowd)."""
    doubtful = [pk for pk, _, _, untrusted in rows if untrusted]
    trusted = crowd_selectors.trusted_vote_counts(project=project, subject_ids=doubtful)
    return [
        (pk, count, trusted.get(pk, vote_counts), count - untrusted)
        for pk, count, vote_counts, untrusted in rows
    ]


def _check_batch(project, version, tree, questions, rule, rows, samples) -> list[int]:
    """Decide outside any transaction (no row stays locked while NumPy runs), then write."""
    decisions = {}
    for pk, _, vote_counts, classifications in rows:
        if pk not in samples:  # imported after the version scored its pool
            continue
        decision = retirement.decide(
            samples_from_prediction(samples[pk]),
            {key: np.array(votes.answer_counts(vote_counts, tree, key)) for key in tree.questions},
            questions,
            classifications=classifications,
            rule=rule,
        )
        if decision.retire:
            decisions[pk] = decision
    retired = []
    with transaction.atomic():
        for pk, classifications, _, _ in rows:
            if pk in decisions and _retire(pk, classifications, version, decisions[pk], questions):
                retired.append(pk)
        Subject.objects.bulk_update(
            [Subject(pk=pk, retirement_checked_votes=count) for pk, count, _, _ in rows],
            ["retirement_checked_votes"],
        )
        if retired:
            transaction.on_commit(
                lambda: redis_queue.subjects_retired(project_id=project.pk, subject_ids=retired)
            )
    return retired


def _retire(pk, classifications, version, decision, questions) -> bool:
    """Compare-and-set: only an active subject whose votes are still the ones judged."""
    forecast = {
        question.key: decision.forecasts[question.key].as_json(question.answers)
        for question in questions
        if question.key in decision.forecasts and decision.forecasts[question.key].reached
    }
    by_model = decision.reason == RetirementReason.MODEL
    return bool(
        Subject.objects.filter(
            pk=pk, status=SubjectStatus.ACTIVE, classification_count=classifications
        ).update(
            status=SubjectStatus.RETIRED,
            retired_at=timezone.now(),
            retirement_reason=RetirementReason.MODEL if by_model else RetirementReason.LIMIT,
            retired_by_version=version if by_model else None,
            retirement_forecast=forecast,
        )
    )
