"""The catalogue's best estimate of a subject's answer probabilities, from everything known.

NumPy/SciPy only (no Django): the catalogue export (catalogue_estimates.py), the subject page and
the benchmarks call this same function.

What is estimated: theta_q, the true probability that a volunteer who reaches question q picks each
answer (the quantity the benchmarks score catalogues against), as its posterior mean and a central
credible interval (90% by default), given
- the subject's votes, each weighted by its volunteer's reliability (labelling/crowd): counts
  k_q [answers] per question, non-integer in general, and
- either the model's T MC-dropout samples for the subject (the latest good version's), or, when no
  version that is not worse than the image-free baseline has scored the subject, that baseline's
  Dirichlet prior alpha_q (mlworker/baseline.py).

With the model, the posterior is model-aware retirement's robust mixture (mlworker/mixture.py): the T
samples as point masses plus a vague flat Dirichlet, reweighted by the votes' likelihood, so the
marginal of answer a is

    sum_t w_t delta(p_qat) + w_v Beta(1 + k_qa, A - 1 + n_q - k_qa)      (A answers, n_q = sum k_q)

With the baseline, it is conjugate: Dirichlet(alpha_q + k_q), answer a's marginal
Beta(alpha_qa + k_qa, sum(alpha_q) + n_q - alpha_qa - k_qa). With no votes, the model (or the
baseline) alone; with many votes, both approach the vote fraction k_qa / n_q. The T samples stand
for the model's belief as so many points: with far more votes than a retirement limit the
posterior settles on the few samples nearest the vote fraction, and the interval reflects their
spacing more than the votes' precision.

The interval's ends are exact quantiles of that marginal, with no grid and no sampling: between two
consecutive point masses the CDF is (mass of the points below) + w_v I(x; a, b), I the regularised
incomplete beta function; the CDF at the points finds the gap the quantile lies in, and there it is
either a point (where the CDF jumps past the level) or I's inverse (`mixture_quantile`).
"""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.special import betainc, betaincinv

from mlworker.mixture import VAGUE_WEIGHT, check_samples, posterior, posterior_mean_answers

INTERVAL_MASS = 0.9
# Samples are probabilities; stored ones are rounded (Prediction.samples, 5 decimals).
SAMPLE_TOLERANCE = 1e-6


class Estimate(NamedTuple):
    """One question's estimate of theta: arrays [answers]. low <= high; the mean lies between
    except for a very skewed posterior (a baseline alpha well below 1 and few votes, or a model
    split between far-apart samples), whose mean can fall outside its central interval."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def best_estimate(
    counts: dict[str, np.ndarray],
    questions: Sequence,
    *,
    samples: dict[str, np.ndarray] | None = None,
    baseline_alpha: dict[str, np.ndarray] | None = None,
    mass: float = INTERVAL_MASS,
    vague_weight: float = VAGUE_WEIGHT,
) -> dict[str, Estimate]:
    """{question: Estimate(mean, low, high)} of theta for one subject.

    counts: {question: float [answers]} weighted votes (a question left out has none);
    questions: objects with `key` and `answers` (mlworker.questions.QuestionConfig);
    exactly one of samples {question: [T, answers]} (the model's MC samples) and baseline_alpha
    {question: [answers]} (the image-free baseline's Dirichlet); mass: the interval's probability.
    """
    if not questions:
        raise ValueError("Invalid questions: expected at least one question, received none")
    if (samples is None) == (baseline_alpha is None):
        raise ValueError(
            "Invalid prior: expected exactly one of samples (the model's) and baseline_alpha "
            f"(the image-free baseline's), received {'both' if samples is not None else 'neither'}"
        )
    if not 0.0 < mass < 1.0:
        raise ValueError(f"Invalid mass: expected 0 < mass < 1, received {mass!r}")
    counts = _checked_counts(counts, questions)
    tails = ((1.0 - mass) / 2.0, (1.0 + mass) / 2.0)
    if baseline_alpha is not None:
        return _baseline_estimate(
            counts, questions, _checked_alpha(baseline_alpha, questions), tails
        )
    samples = _checked_samples(samples, questions)
    weights = posterior(samples, counts, questions, vague_weight=vague_weight)
    means = posterior_mean_answers(samples, counts, weights, questions)
    estimates = {}
    for question in questions:
        points = samples[question.key]
        alpha = 1.0 + counts[question.key]
        beta = alpha.sum() - alpha
        low, high = mixture_quantile(
            points, weights.mask_weights, weights.vague, alpha, beta, tails
        )
        estimates[question.key] = Estimate(means[question.key], low, high)
    return estimates


def mixture_quantile(
    points: np.ndarray,
    point_weights: np.ndarray,
    beta_weight: float,
    alpha: np.ndarray,
    beta: np.ndarray,
    levels,
) -> np.ndarray:
    """inf{x : F(x) >= level} per level and answer, F the CDF of sum_t point_weights[t]
    delta(points[t, a]) + beta_weight Beta(alpha[a], beta[a]). points [T, answers] (T may be 0),
    point_weights [T], alpha and beta [answers], levels [L] -> [L, answers]; the weights sum to 1.

    Sorted per answer, s_0 = 0 <= s_1 <= ... <= s_T <= s_T+1 = 1, C_j the points' mass up to s_j:
    on [s_j, s_j+1) F(x) = C_j + w I(x), I the Beta CDF. With j the number of points where
    F(s_j) < level, the quantile lies in (s_j, s_j+1]: it is max(s_j, I^-1((level - C_j) / w)) if
    that comes before s_j+1, else the jump at s_j+1."""
    levels = np.asarray(levels, dtype=np.float64)[:, None]  # [L, 1]
    answers = points.shape[1]
    order = np.argsort(points, axis=0)
    ordered = np.take_along_axis(points, order, axis=0)
    cumulative = np.cumsum(point_weights[order], axis=0)
    at_points = cumulative
    if beta_weight > 0:
        at_points = cumulative + beta_weight * betainc(alpha, beta, ordered)
    gap = np.sum(at_points[None, :, :] < levels[:, :, None], axis=1)  # [L, answers]
    columns = np.arange(answers)[None, :]
    start = np.vstack([np.zeros((1, answers)), ordered])[gap, columns]
    end = np.vstack([ordered, np.ones((1, answers))])[gap, columns]
    inverse = np.full(gap.shape, np.inf)
    if beta_weight > 0:
        below = np.vstack([np.zeros((1, answers)), cumulative])[gap, columns]
        needed = (levels - below) / beta_weight
        inverse = np.where(needed > 1.0, np.inf, betaincinv(alpha, beta, np.clip(needed, 0.0, 1.0)))
    return np.minimum(end, np.maximum(start, inverse))


def _baseline_estimate(counts, questions, alphas, tails) -> dict[str, Estimate]:
    """Dirichlet(alpha + k) per question: mean and its Beta marginals' quantiles."""
    estimates = {}
    for question in questions:
        alpha = alphas[question.key] + counts[question.key]
        beta = alpha.sum() - alpha
        low, high = (betaincinv(alpha, beta, level) for level in tails)
        estimates[question.key] = Estimate(alpha / alpha.sum(), low, high)
    return estimates


def _checked_counts(counts: dict, questions: Sequence) -> dict[str, np.ndarray]:
    known = {question.key: question for question in questions}
    unknown = sorted(set(counts) - set(known))
    if unknown:
        raise ValueError(
            f"Invalid counts: questions {unknown} are not in the tree; expected some of "
            f"{sorted(known)}"
        )
    checked = {}
    for key, question in known.items():
        value = np.asarray(counts.get(key, np.zeros(len(question.answers))), dtype=np.float64)
        if value.shape != (len(question.answers),) or not np.all(np.isfinite(value)):
            raise ValueError(
                f"Invalid counts for question {key!r}: expected {len(question.answers)} finite "
                f"numbers, received {value.tolist()}"
            )
        if np.any(value < 0):
            raise ValueError(
                f"Invalid counts for question {key!r}: expected weighted votes >= 0, received "
                f"{value.tolist()}"
            )
        checked[key] = value
    return checked


def _checked_samples(samples: dict, questions: Sequence) -> dict[str, np.ndarray]:
    arrays = {
        q.key: np.asarray(samples[q.key], dtype=np.float64) for q in questions if q.key in samples
    }
    check_samples(arrays, questions)
    for key, value in arrays.items():
        outside = ~np.isfinite(value) | (value < -SAMPLE_TOLERANCE) | (value > 1 + SAMPLE_TOLERANCE)
        if np.any(outside):
            raise ValueError(
                f"Invalid samples for question {key!r}: expected probabilities in [0, 1], "
                f"received {value[outside][:3].tolist()}"
            )
    return {key: np.clip(value, 0.0, 1.0) for key, value in arrays.items()}


def _checked_alpha(baseline_alpha: dict, questions: Sequence) -> dict[str, np.ndarray]:
    checked = {}
    for question in questions:
        value = np.asarray(baseline_alpha.get(question.key, ()), dtype=np.float64)
        if value.shape != (len(question.answers),) or not np.all(np.isfinite(value) & (value > 0)):
            raise ValueError(
                f"Invalid baseline_alpha for question {question.key!r}: expected "
                f"{len(question.answers)} positive numbers, received {value.tolist()}"
            )
        checked[question.key] = value
    return checked
