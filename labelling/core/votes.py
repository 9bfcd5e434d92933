"""Vote counts: `Subject.vote_counts` is {question: {answer: votes}}, kept in step with the raw
classifications (the source of truth) by the vote itself and rebuilt from them here.

The vote's own count update is one SQL statement (labelling/volunteer/submission.py); everything
that counts in Python, or reads the counts in a question tree's order, goes through this module.
"""

import numpy as np
from django.db import transaction

from labelling.core.selectors import question_versions
from labelling.core.tree import Tree
from labelling.models import Classification, Subject


def annotations_counted(annotations: dict, made_under: int, since: dict[str, int]) -> dict:
    """The answers of a classification made under tree version `made_under` that count now: those
    to questions that still exist and mean what they meant then (`since`: {question: the version
    its meaning dates from}, `question_versions`). One rule for every count: the subjects' counts,
    the crowd's weighing, training, retirement and the catalogue."""
    return {
        question: answer
        for question, answer in (annotations or {}).items()
        if question in since and made_under >= since[question]
    }


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
    """Vote counts rebuilt from the raw classifications (the source of truth)."""
    since = question_versions(project_id=subject.project_id)
    counts: dict[str, dict[str, int]] = {}
    for annotations, made_under in Classification.objects.filter(subject=subject).values_list(
        "annotations", "tree_version"
    ):
        counts_add(counts, annotations_counted(annotations, made_under, since))
    return counts


@transaction.atomic
def subject_counts_rebuild(*, subject: Subject) -> Subject:
    """Recompute a subject's counts from its raw classifications (those that count now)."""
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    subject.vote_counts = subject_recount(subject=subject)
    subject.classification_count = subject.classifications.count()
    subject.save(update_fields=["vote_counts", "classification_count"])
    return subject
