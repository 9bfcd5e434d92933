"""Vote counts: `Subject.vote_counts` is {question: {answer: votes}}, kept in step with the raw
classifications (the source of truth) by the vote itself and rebuilt from them here.

The vote's own count update is one SQL statement (labelling/volunteer/submission.py); everything
that counts in Python, or reads the counts in a question tree's order, goes through this module.

Votes after retirement (the one rule, `counted`): a classification of a subject that had already
retired when it arrived is stored as a raw classification (`after_retirement`, in the
classifications export) and counts nowhere: not in the subject's N, vote counts or
classification_count, not toward retirement, not in the volunteers' reliability, not in training or
the retraining trigger, not in the catalogue. Every read of classifications that counts goes
through `counted`; the vote's statement applies the same rule (it skips the count update).
"""

import numpy as np
from django.db import transaction
from django.db.models import QuerySet

from labelling.core.tree import Tree
from labelling.models import Classification, Subject, VolunteerReliability


def counted(classifications: QuerySet) -> QuerySet:
    """The classifications that count (see the module's rule): those that did not arrive after
    their subject retired."""
    return classifications.filter(after_retirement=False)


def counts_add(counts: dict, walked: dict[str, str], weight: float = 1) -> dict:
    """Add one vote (counted `weight`) per answered question ({question: answer}) to `counts`,
    in place."""
    for question_key, answer_key in walked.items():
        per_question = counts.setdefault(question_key, {})
        per_question[answer_key] = per_question.get(answer_key, 0) + weight
    return counts


def answer_counts(vote_counts: dict | None, tree: Tree, question_key: str) -> list[int]:
    """One question's votes per answer, in the tree's answer order (0 for an answer never given)."""
    votes = (vote_counts or {}).get(question_key) or {}
    return [votes.get(answer.key, 0) for answer in tree.questions[question_key].answers]


def counts_arrays(rows: list[dict | None], tree: Tree, dtype=np.int64) -> dict[str, np.ndarray]:
    """Many subjects' vote_counts -> {question: [subjects, answers]} in the tree's order (float
    for weighted counts)."""
    return {
        key: np.array(
            [answer_counts(vote_counts, tree, key) for vote_counts in rows], dtype=dtype
        ).reshape(len(rows), len(question.answers))
        for key, question in tree.questions.items()
    }


def subject_recount(*, subject: Subject) -> dict[str, dict[str, int]]:
    """Vote counts rebuilt from the raw classifications (the source of truth) that count."""
    counts: dict[str, dict[str, int]] = {}
    for annotations in counted(Classification.objects.filter(subject=subject)).values_list(
        "annotations", flat=True
    ):
        counts_add(counts, annotations)
    return counts


@transaction.atomic
def subject_counts_rebuild(*, subject: Subject) -> Subject:
    """Recompute a subject's counts (vote counts, classification_count, untrusted_count) from its
    raw classifications that count. For a database from before the rule, whose counts took votes
    after retirement in: `manage.py rebuild_vote_counts`."""
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    counting = counted(subject.classifications.all())
    subject.vote_counts = subject_recount(subject=subject)
    subject.classification_count = counting.count()
    subject.untrusted_count = counting.filter(
        volunteer_id__in=VolunteerReliability.objects.filter(
            project_id=subject.project_id, untrusted=True
        ).values("volunteer_id")
    ).count()
    subject.save(update_fields=["vote_counts", "classification_count", "untrusted_count"])
    return subject
