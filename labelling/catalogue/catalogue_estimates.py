"""The catalogue's best estimate against the database: what labelling/catalogue/estimate.py needs
for each subject, read in chunks, and its answer.

For a subject:
- the votes: each counted with its volunteer's weight (labelling/crowd, as the exports' weighted
  columns);
- the prior: the MC samples of the latest good version (ready, not worse than the image-free
  baseline) that scored the subject; a round scores the unretired subjects, so a retired subject
  keeps the samples of the last good version before it retired. A prediction stored without
  samples gives its stored mean answers as one sample: the estimate then trusts that mean as if
  the model were sure of it (the interval is narrower than the model's own).
- no good version scored it (no model yet, the versions worse than the baseline, or imported
  after the last round): the image-free baseline's Dirichlet, the one the latest ready version was
  judged against (fitted on the weighted votes it trained on); before any version, the same fit on
  every subject's weighted votes now. It is read (or fitted) only when some subject needs it.
"""

from dataclasses import dataclass, field

import numpy as np

from labelling.catalogue.estimate import Estimate, best_estimate
from labelling.core.tree import Tree
from labelling.core.votes import answer_counts
from labelling.crowd import crowd_selectors
from labelling.models import ModelVersion, ModelVersionStatus, Prediction, Project, Subject
from mlworker import baseline

CHUNK = 2000


@dataclass(frozen=True)
class LatestPrediction:
    """The latest good version's view of a subject: its number, stored per_question and samples."""

    number: int
    per_question: dict
    samples: dict


@dataclass
class SubjectEstimates:
    """Reads a project's version list and volunteer weights once (`weights`: every volunteer's by
    default, crowd_selectors.vote_weights); then a chunk of subjects at a time (`chunk`), the
    baseline fitted at most once, when a subject first needs it."""

    project: Project
    tree: Tree
    weights: dict[int, float] | None = None
    good: dict[int, int] = field(init=False)  # {good version pk: number}
    _alphas: dict[str, np.ndarray] | None = field(init=False, default=None)

    def __post_init__(self):
        self.questions = self.tree.head_questions()
        self.good = dict(
            ModelVersion.objects.filter(
                project=self.project, status=ModelVersionStatus.READY, worse_than_baseline=False
            ).values_list("pk", "number")
        )
        if self.weights is None:
            self.weights = crowd_selectors.vote_weights(project=self.project)

    def weighted_counts(self, subject_ids: list[int]) -> dict[int, dict]:
        return crowd_selectors.weighted_vote_counts(
            project=self.project, subject_ids=subject_ids, weights=self.weights
        )

    def chunk(
        self, weighted: dict[int, dict]
    ) -> dict[int, tuple[LatestPrediction | None, dict[str, Estimate]]]:
        """{subject id: (its latest good prediction or None, {question: Estimate})} for the
        subjects of `weighted` ({subject id: weighted vote counts}, `weighted_counts`)."""
        latest = latest_good_predictions(list(weighted), self.good)
        answers = {}
        for pk, vote_counts in weighted.items():
            counts = {
                key: np.array(answer_counts(vote_counts, self.tree, key), dtype=np.float64)
                for key in self.tree.questions
            }
            samples = prediction_samples(latest.get(pk), self.questions)
            if samples is None:
                estimates = best_estimate(counts, self.questions, baseline_alpha=self.alphas())
            else:
                estimates = best_estimate(counts, self.questions, samples=samples)
            answers[pk] = (latest.get(pk), estimates)
        return answers

    def alphas(self) -> dict[str, np.ndarray]:
        if self._alphas is None:
            self._alphas = self._stored_baseline() or self._fitted_baseline()
        return self._alphas

    def _stored_baseline(self) -> dict[str, np.ndarray] | None:
        """The latest ready version's baseline, if it has one for this tree."""
        metrics = (
            ModelVersion.objects.filter(
                project=self.project, status=ModelVersionStatus.READY, metrics__has_key="_baseline"
            )
            .order_by("-number")
            .values_list("metrics", flat=True)
            .first()
        )
        stored = (metrics or {}).get("_baseline")
        if not isinstance(stored, dict) or any(
            len(stored.get(q.key) or ()) != len(q.answers) for q in self.questions
        ):
            return None
        return {q.key: np.asarray(stored[q.key], dtype=np.float64) for q in self.questions}

    def _fitted_baseline(self) -> dict[str, np.ndarray]:
        """mlworker.baseline.fit on every voted subject's weighted votes (every volunteer's
        weight read here: `weights` may hold only some)."""
        weights = crowd_selectors.vote_weights(project=self.project)
        rows: list[dict] = []
        voted = Subject.objects.filter(project=self.project, classification_count__gt=0)
        last = 0
        while ids := list(
            voted.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK]
        ):
            last = ids[-1]
            rows += crowd_selectors.weighted_vote_counts(
                project=self.project, subject_ids=ids, weights=weights
            ).values()
        return baseline.fit(
            {
                q.key: np.array(
                    [answer_counts(row, self.tree, q.key) for row in rows], dtype=np.float64
                ).reshape(len(rows), len(q.answers))
                for q in self.questions
            }
        )


def latest_good_predictions(
    subject_ids: list[int], good: dict[int, int]
) -> dict[int, LatestPrediction]:
    """{subject id: its prediction by the latest good version that scored it}. Which one is read
    without the JSON; then the samples of that one alone."""
    latest: dict[int, tuple[int, int]] = {}  # subject id: (version number, prediction pk)
    for pk, subject_id, version_id in Prediction.objects.filter(
        subject_id__in=subject_ids, model_version_id__in=list(good)
    ).values_list("pk", "subject_id", "model_version_id"):
        if subject_id not in latest or latest[subject_id][0] < good[version_id]:
            latest[subject_id] = (good[version_id], pk)
    numbers = {pk: number for number, pk in latest.values()}
    return {
        subject_id: LatestPrediction(numbers[pk], per_question, samples or {})
        for pk, subject_id, per_question, samples in Prediction.objects.filter(
            pk__in=list(numbers)
        ).values_list("pk", "subject_id", "per_question", "samples")
    }


def prediction_samples(latest: LatestPrediction | None, questions) -> dict[str, np.ndarray] | None:
    """{question: [T, answers]} from a stored prediction; its stored means as one sample when the
    samples are missing; None without a prediction covering every question."""
    if latest is None:
        return None
    if all(len(latest.samples.get(q.key) or ()) for q in questions):
        return {q.key: np.asarray(latest.samples[q.key], dtype=np.float64) for q in questions}
    try:
        return {
            q.key: np.array(
                [[latest.per_question[q.key]["answers"][answer]["mean"] for answer in q.answers]]
            )
            for q in questions
        }
    except (KeyError, TypeError):
        return None
