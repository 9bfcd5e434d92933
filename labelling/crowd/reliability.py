"""Each round's estimate of every volunteer's reliability in a project, and what follows from it.

`reliability_update` (run by the retrain task before training) reads every classification of the
project, weighs each volunteer with `mlworker.reliability.estimate` (the others' votes, the model's
posterior where the version that steers has one, sessions from one address judged together;
staff's exclusions weigh nothing), stores the result (`VolunteerReliability`), and recounts the
untrusted votes of the subjects whose voters changed standing: a subject retired at the limit on
votes that no longer count goes back to the queue. It returns the weighted counts the round trains
and judges on. Raw classifications are never changed.
"""

from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from labelling.core.selectors import project_tree, question_versions
from labelling.core.tree import Tree
from labelling.core.votes import annotations_counted
from labelling.crowd import crowd_selectors
from labelling.models import (
    ModelVersion,
    Prediction,
    Project,
    RetirementReason,
    Subject,
    SubjectStatus,
    VolunteerReliability,
)
from labelling.queue import redis_queue
from mlworker import reliability


@dataclass
class CrowdWeights:
    """A round's weights: per volunteer id, and each labelled subject's weighted vote counts
    ({subject id: {question: {answer: weighted votes}}}, the shape of Subject.vote_counts)."""

    weights: dict[int, float]
    vote_counts: dict[int, dict]
    flagged: int
    reactivated: list[int]


def project_votes(*, project: Project, tree: Tree):
    """Every answer given in the project as `reliability.Votes`, with the volunteer and subject
    ids behind its indices, the question keys in its order, and each volunteer's classifications."""
    since = question_versions(project_id=project.pk)
    rows = [
        (volunteer, subject, annotations_counted(annotations, made_under, since))
        for volunteer, subject, annotations, made_under in project.classifications.order_by(
            "pk"
        ).values_list("volunteer_id", "subject_id", "annotations", "tree_version")
    ]
    volunteer_ids = sorted({volunteer for volunteer, _, _ in rows})
    subject_ids = sorted({subject for _, subject, _ in rows})
    volunteer_index = {pk: index for index, pk in enumerate(volunteer_ids)}
    subject_index = {pk: index for index, pk in enumerate(subject_ids)}
    keys = list(tree.questions)
    question_index = {key: index for index, key in enumerate(keys)}
    answer_index = {
        key: {answer.key: index for index, answer in enumerate(tree.questions[key].answers)}
        for key in keys
    }
    columns = ([], [], [], [])
    for volunteer, subject, annotations in rows:
        for question, answer in (annotations or {}).items():
            if answer not in answer_index[question]:
                continue  # not an answer of the question now (its meaning dates from later)
            for column, value in zip(
                columns,
                (volunteer_index[volunteer], subject_index[subject], question_index[question],
                 answer_index[question][answer]),
                strict=True,
            ):  # fmt: skip
                column.append(value)
    votes = reliability.Votes.from_lists(
        *columns,
        answers_per_question=tuple(len(tree.questions[key].answers) for key in keys),
        volunteers=len(volunteer_ids),
        subjects=len(subject_ids),
    )
    classifications = np.bincount(
        [volunteer_index[volunteer] for volunteer, _, _ in rows], minlength=len(volunteer_ids)
    )
    return votes, volunteer_ids, subject_ids, keys, classifications


def model_prior(version: ModelVersion | None, subject_ids: list[int], tree: Tree, keys) -> list:
    """Per question [subjects, answers]: the version's posterior mean answer shares where it
    scored the subject (NaN rows elsewhere: the crowd's shares stand in)."""
    prior = [np.full((len(subject_ids), len(tree.questions[key].answers)), np.nan) for key in keys]
    if version is None:
        return prior
    row_of = {pk: row for row, pk in enumerate(subject_ids)}
    for subject_id, per_question in Prediction.objects.filter(
        model_version=version, subject_id__in=subject_ids
    ).values_list("subject_id", "per_question"):
        for q, key in enumerate(keys):
            answers = (per_question.get(key) or {}).get("answers") or {}
            means = [answers.get(a.key, {}).get("mean") for a in tree.questions[key].answers]
            if None not in means and sum(means) > 0:
                prior[q][row_of[subject_id]] = np.asarray(means) / sum(means)
    return prior


def reliability_update(*, project: Project, version: ModelVersion | None = None) -> CrowdWeights:
    """Weigh every volunteer of the project (with `version`'s posterior as the prior, when given),
    store it, recount untrusted votes where standing changed; return the round's weights."""
    tree = project_tree(project=project)
    votes, volunteer_ids, subject_ids, keys, classifications = project_votes(
        project=project, tree=tree
    )
    excluded_ids = crowd_selectors.excluded_volunteer_ids(project=project)
    addresses = crowd_selectors.address_digests(volunteer_ids=volunteer_ids)
    groups = _groups([addresses.get(pk, "") for pk in volunteer_ids])
    estimate = reliability.estimate(
        votes,
        prior=model_prior(version, subject_ids, tree, keys),
        groups=groups,
        excluded=np.array([pk in excluded_ids for pk in volunteer_ids], dtype=bool),
    )
    group_sizes = np.bincount(groups[groups >= 0]) if np.any(groups >= 0) else np.zeros(0, int)
    kinds = estimate.kind()
    now = timezone.now()
    rows = [
        VolunteerReliability(
            project=project,
            volunteer_id=pk,
            weight=float(estimate.weight[i]),
            kind=kinds[i],
            flagged=bool(estimate.flagged[i]),
            untrusted=bool(estimate.flagged[i]) or pk in excluded_ids,
            answers=int(estimate.votes[i]),
            classifications=int(classifications[i]),
            agreement={
                key: (None if np.isnan(value) else round(float(value), 4))
                for key, value in zip(keys, estimate.agreement[i], strict=True)
            },
            address_sessions=int(group_sizes[groups[i]]) if groups[i] >= 0 else 1,
            address_weight=float(estimate.group_weight[i]) if groups[i] >= 0 else None,
            computed_at=now,
        )
        for i, pk in enumerate(volunteer_ids)
    ]
    changed = _store(project, rows)
    reactivated = untrusted_recount(project=project, volunteer_ids=changed)
    counts = reliability.weighted_counts(votes, estimate.weight)
    vote_counts = {
        subject_id: {
            key: {
                answer.key: float(counts[q][row, a])
                for a, answer in enumerate(tree.questions[key].answers)
                if counts[q][row, a] > 0
            }
            for q, key in enumerate(keys)
        }
        for row, subject_id in enumerate(subject_ids)
    }
    return CrowdWeights(
        weights={pk: float(estimate.weight[i]) for i, pk in enumerate(volunteer_ids)},
        vote_counts=vote_counts,
        flagged=int(estimate.flagged.sum()),
        reactivated=reactivated,
    )


def _groups(digests: list[str]) -> np.ndarray:
    """An id per distinct non-empty address digest (-1: unknown, judged alone)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(d, len(ids)) if d else -1 for d in digests], dtype=np.int64)


@transaction.atomic
def _store(project: Project, rows: list[VolunteerReliability]) -> list[int]:
    """Replace the project's reliability rows; returns the volunteers whose untrusted standing
    changed (new volunteers count as changed when untrusted)."""
    before = dict(
        VolunteerReliability.objects.filter(project=project).values_list(
            "volunteer_id", "untrusted"
        )
    )
    VolunteerReliability.objects.filter(project=project).delete()
    VolunteerReliability.objects.bulk_create(rows)
    return [
        row.volunteer_id for row in rows if before.get(row.volunteer_id, False) != row.untrusted
    ]


def untrusted_recount(*, project: Project, volunteer_ids: list[int]) -> list[int]:
    """Recount `untrusted_count` of every subject these volunteers classified: a subject retired at
    the limit whose trusted votes are now short of it goes back to the queue (returned), and an
    active one whose trusted votes reach it now (a lifted exclusion) retires at the limit."""
    if not volunteer_ids:
        return []
    subject_ids = list(
        project.classifications.filter(volunteer_id__in=volunteer_ids)
        .values_list("subject_id", flat=True)
        .distinct()
    )
    untrusted = crowd_selectors.untrusted_counts(project=project, subject_ids=subject_ids)
    reactivated, retired = [], []
    with transaction.atomic():
        subjects = list(
            Subject.objects.select_for_update().filter(pk__in=subject_ids).order_by("pk")
        )
        for subject in subjects:
            subject.untrusted_count = untrusted.get(subject.pk, 0)
            trusted = subject.classification_count - subject.untrusted_count
            if subject.status == SubjectStatus.RETIRED:
                if (
                    subject.retirement_reason == RetirementReason.LIMIT
                    and trusted < project.retirement_limit
                ):
                    subject.status, subject.retired_at = SubjectStatus.ACTIVE, None
                    subject.retirement_reason = RetirementReason.NONE
                    reactivated.append(subject)
            elif trusted >= project.retirement_limit:
                subject.status, subject.retired_at = SubjectStatus.RETIRED, timezone.now()
                subject.retirement_reason = RetirementReason.LIMIT
                retired.append(subject.pk)
        Subject.objects.bulk_update(
            subjects, ["untrusted_count", "status", "retired_at", "retirement_reason"]
        )

        def queue_update():
            version = Project.objects.values_list("serving_version", flat=True).get(pk=project.pk)
            for subject in reactivated:
                redis_queue.subject_added(
                    project_id=project.pk,
                    version=version,
                    subject_id=subject.pk,
                    priority=subject.priority,
                    image=subject.image,
                )
            redis_queue.subjects_retired(project_id=project.pk, subject_ids=retired)

        transaction.on_commit(queue_update)
    return [subject.pk for subject in reactivated]
