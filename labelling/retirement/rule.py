"""Model-aware retirement: would the remaining votes change a subject's vote fractions?

NumPy/SciPy only (no Django, no TensorFlow): the web side's task, the tests and the benchmark call
these same functions.

The prior over a subject's answer probabilities theta and its posterior given the votes so far
(`posterior`, `posterior_mean_answers`) are mlworker/mixture.py's: the latest good model version's T
stored MC-dropout samples as point masses, plus a vague flat Dirichlet of weight e = VAGUE_WEIGHT
(a "robust mixture prior"), reweighted by every question's votes; w_t and w_v below are those
posterior weights.

Of the volunteers still to come (limit - classifications), m_q reach question q: the remaining
volunteers times the share the posterior mean answers send down the tree, rounded. Answer a of q
then ends at the final vote fraction F = (k_qa + K) / (n_q + m_q), K its remaining votes:

    p(K) = sum_t w_t Binomial(K; m_q, p_qat) + w_v BetaBinomial(K; m_q, 1 + k_qa, A - 1 + n_q - k_qa)

A question is settled when, for every answer, the 90% interval of F is narrower than the project's
threshold, or the expected change E|K - E[K]| (in votes) is below one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from labelling import retirement_reasons
from mlworker.acquisition import credible_interval, reach_share
from mlworker.mixture import VAGUE_WEIGHT, Posterior, posterior, posterior_mean_answers

INTERVAL_MASS = 0.9
# "Expected change below one": E|K - E[K]| < 1 vote.
MAX_EXPECTED_CHANGE_VOTES = 1.0

# Which rule a project uses is models.RetirementRule; the fixed-count rule is fixed_count.py.
REASON_LIMIT, REASON_MODEL = retirement_reasons.LIMIT, retirement_reasons.MODEL


@dataclass(frozen=True)
class Forecast:
    """One question's predicted final vote fractions (arrays [answers]) after `remaining` more votes."""

    votes: int  # n_q, received so far
    remaining: int  # m_q, expected still to reach it
    mean: np.ndarray
    low: np.ndarray  # 90% interval of the final fraction
    high: np.ndarray
    expected_change: np.ndarray  # E|K - E[K]| in votes

    @property
    def reached(self) -> bool:
        return self.votes + self.remaining > 0

    @property
    def width(self) -> float:
        return float(np.max(self.high - self.low))

    def as_json(self, answers: Sequence[str]) -> dict:
        return {
            "votes": self.votes,
            "remaining": self.remaining,
            "answers": {
                answer: {
                    "mean": round(float(self.mean[a]), 4),
                    "low": round(float(self.low[a]), 4),
                    "high": round(float(self.high[a]), 4),
                    "expected_change": round(float(self.expected_change[a]), 4),
                }
                for a, answer in enumerate(answers)
            },
        }


def remaining_votes_pmf(
    samples: np.ndarray, counts: np.ndarray, weights: Posterior, remaining: int
) -> np.ndarray:
    """p(K = j) of each answer's remaining votes, j = 0..remaining: samples [T, answers],
    counts int [answers] -> [answers, remaining + 1]."""
    counts = np.asarray(counts, dtype=np.float64)
    support = np.arange(remaining + 1)
    # [T, answers, remaining + 1]
    masks = stats.binom.pmf(support, remaining, np.clip(samples, 0.0, 1.0)[..., None])
    pmf = np.einsum("t,taj->aj", weights.mask_weights, masks)
    if weights.vague > 0:
        alpha = 1.0 + counts
        beta = alpha.sum() - alpha
        vague = stats.betabinom.pmf(support, remaining, alpha[:, None], beta[:, None])
        pmf = pmf + weights.vague * vague
    return pmf / pmf.sum(axis=-1, keepdims=True)


def remaining_reach(
    means: dict[str, np.ndarray], questions: Sequence, remaining_volunteers: int
) -> dict[str, int]:
    """Volunteers still to come who are expected to reach each question (rounded)."""
    share = reach_share({key: value[None, :] for key, value in means.items()}, questions)
    return {
        key: int(np.floor(remaining_volunteers * value[0] + 0.5)) for key, value in share.items()
    }


def forecast_question(
    samples: np.ndarray, counts: np.ndarray, weights: Posterior, remaining: int
) -> Forecast:
    """The final vote fractions of one question: samples [T, answers], counts int [answers]."""
    counts = np.asarray(counts, dtype=np.int64)
    votes = int(counts.sum())
    total = votes + remaining
    if total == 0:
        nothing = np.zeros(len(counts))
        return Forecast(0, 0, nothing, nothing, nothing, nothing)
    pmf = remaining_votes_pmf(samples, counts, weights, remaining)
    support = np.arange(remaining + 1)
    expected = pmf @ support
    low_k, high_k = credible_interval(pmf, INTERVAL_MASS)
    return Forecast(
        votes=votes,
        remaining=remaining,
        mean=(counts + expected) / total,
        low=(counts + low_k) / total,
        high=(counts + high_k) / total,
        expected_change=(np.abs(support[None, :] - expected[:, None]) * pmf).sum(axis=-1),
    )


def forecast(
    samples: dict[str, np.ndarray],
    counts: dict[str, np.ndarray],
    questions: Sequence,
    *,
    remaining_volunteers: int,
    vague_weight: float = VAGUE_WEIGHT,
) -> dict[str, Forecast]:
    """Every question's forecast after `remaining_volunteers` more classifications."""
    if remaining_volunteers < 0:
        raise ValueError(
            f"Invalid remaining_volunteers: expected >= 0, received {remaining_volunteers}"
        )
    weights = posterior(samples, counts, questions, vague_weight=vague_weight)
    means = posterior_mean_answers(samples, counts, weights, questions)
    reach = remaining_reach(means, questions, remaining_volunteers)
    return {
        question.key: forecast_question(
            samples[question.key],
            np.asarray(counts.get(question.key, np.zeros(len(question.answers))), np.int64),
            weights,
            reach[question.key],
        )
        for question in questions
    }


def settled(
    result: Forecast, threshold: float, max_expected_change: float = MAX_EXPECTED_CHANGE_VOTES
) -> bool:
    """Nothing the remaining votes could do matters: none remain, the 90% interval is narrower
    than `threshold` for every answer, or every answer's expected change is below
    `max_expected_change` votes.

    With one vote as the limit, the last clause settles a question with 5 or fewer votes to come
    whenever the masks agree, whatever p they agree on: E|K - E[K]| of a Binomial(5, p) is at
    most 0.94."""
    return (
        result.remaining == 0
        or result.width < threshold
        or bool(np.all(result.expected_change < max_expected_change))
    )


@dataclass(frozen=True)
class Rule:
    """A project's model-aware rule: retire at `limit` classifications whatever happens; before,
    once `minimum_votes` classifications are in and every reached question is settled."""

    limit: int
    threshold: float
    minimum_votes: int = 3
    max_expected_change: float = MAX_EXPECTED_CHANGE_VOTES

    def __post_init__(self):
        if not (isinstance(self.limit, int) and self.limit >= 1):
            raise ValueError(f"Invalid limit: expected an integer >= 1, received {self.limit!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(
                f"Invalid threshold: expected 0 < threshold <= 1, received {self.threshold!r}"
            )
        if not (isinstance(self.minimum_votes, int) and self.minimum_votes >= 1):
            raise ValueError(
                f"Invalid minimum_votes: expected an integer >= 1, received {self.minimum_votes!r}"
            )
        if not self.max_expected_change >= 0.0:
            raise ValueError(
                "Invalid max_expected_change: expected a number of votes >= 0, received "
                f"{self.max_expected_change!r}"
            )


@dataclass(frozen=True)
class Decision:
    retire: bool
    reason: str  # REASON_LIMIT, REASON_MODEL, or why the subject stays ("" when it simply stays)
    forecasts: dict[str, Forecast]
    unsettled: tuple[str, ...] = ()


def decide(
    samples: dict[str, np.ndarray],
    counts: dict[str, np.ndarray],
    questions: Sequence,
    *,
    classifications: int,
    rule: Rule,
    vague_weight: float = VAGUE_WEIGHT,
) -> Decision:
    """Retire now? samples {q: [T, answers]} of a version not worse than the baseline; counts
    {q: int [answers]}; classifications: volunteers who classified the subject so far."""
    if classifications >= rule.limit:
        return Decision(True, REASON_LIMIT, {})
    if classifications < rule.minimum_votes:
        return Decision(False, "", {})
    forecasts = forecast(
        samples,
        counts,
        questions,
        remaining_volunteers=rule.limit - classifications,
        vague_weight=vague_weight,
    )
    unsettled = tuple(
        key
        for key, result in forecasts.items()
        if result.reached and not settled(result, rule.threshold, rule.max_expected_change)
    )
    return Decision(not unsettled, REASON_MODEL if not unsettled else "", forecasts, unsettled)
