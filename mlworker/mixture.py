"""The robust mixture posterior of a subject's answer probabilities theta, given its votes.

NumPy/SciPy only. Model-aware retirement (labelling/retirement/rule.py) forecasts the final vote
fractions from it; the catalogue's best estimate (labelling/catalogue/estimate.py) is its mean and
credible interval of theta.

Prior over theta (one vector per question): a mixture of
- a model version's T stored MC-dropout samples, point masses of weight (1 - e) / T each; all heads
  share one dropout mask, so one component carries every question's probabilities;
- a vague component of weight e (VAGUE_WEIGHT by default): a flat Dirichlet(1, ..., 1) per
  question, so that votes contradicting a confident model can overrule it.

Votes so far: k_q of n_q per question (n_q = the volunteers who reached q; counts may be weighted,
non-integer). The posterior is the same mixture reweighted by each component's likelihood of every
question's votes (a question nobody reached contributes nothing):

    w_t  ∝ (1 - e) / T * prod_q Multinomial(k_q; n_q, p_qt)
    w_v  ∝ e * prod_q DirichletMultinomial(k_q; n_q, 1)       (its posterior: Dirichlet(1 + k_q))
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from mlworker.baseline import log_pmf as dirichlet_multinomial_log_pmf

# Prior weight of the vague component. 0.1: after 3 agreeing votes, a model sure at 0.97 keeps 97%
# of the posterior; one contradicting vote of 3 hands the vague component 25%, two of 3 91%.
VAGUE_WEIGHT = 0.1
PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class Posterior:
    """Mixture weights after the votes: mask_weights [T] and vague (their sum is 1)."""

    mask_weights: np.ndarray
    vague: float


def check_samples(samples: dict, questions: Sequence) -> None:
    """Every question has an array [T, answers], one T > 0 for all."""
    sizes = set()
    for question in questions:
        array = samples.get(question.key)
        if array is None or array.ndim != 2 or array.shape[1] != len(question.answers):
            raise ValueError(
                f"Invalid samples for question {question.key!r}: expected an array "
                f"[samples, {len(question.answers)}], received "
                f"{None if array is None else array.shape}"
            )
        sizes.add(array.shape[0])
    if len(sizes) != 1 or 0 in sizes:
        raise ValueError(f"Invalid samples: expected one positive sample count, received {sizes}")


def multinomial_log_pmf(probabilities: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """log Multinomial(counts; sum(counts), p): probabilities [T, answers], counts [answers] -> [T]."""
    counts = np.asarray(counts, dtype=np.float64)
    log_p = np.log(np.clip(probabilities, PROBABILITY_FLOOR, 1.0))
    coefficient = gammaln(counts.sum() + 1) - gammaln(counts + 1).sum()
    return coefficient + log_p @ counts


def posterior(
    samples: dict[str, np.ndarray],
    counts: dict[str, np.ndarray],
    questions: Sequence,
    *,
    vague_weight: float = VAGUE_WEIGHT,
) -> Posterior:
    """Mixture weights given the votes. samples {q: [T, answers]}, counts {q: [answers]}
    (a question missing from counts has no votes); questions: key/answers/reached_from objects."""
    if not 0.0 <= vague_weight < 1.0:
        raise ValueError(f"Invalid vague_weight: expected 0 <= w < 1, received {vague_weight}")
    check_samples(samples, questions)
    masks = len(samples[questions[0].key])
    log_masks = np.full(masks, np.log1p(-vague_weight) - np.log(masks))
    log_vague = np.log(vague_weight) if vague_weight > 0 else -np.inf
    for question in questions:
        observed = np.asarray(counts.get(question.key, np.zeros(len(question.answers))))
        if observed.sum() == 0:
            continue
        log_masks = log_masks + multinomial_log_pmf(samples[question.key], observed)
        flat = np.ones(len(question.answers))
        log_vague = log_vague + float(dirichlet_multinomial_log_pmf(flat, observed))
    log_all = np.append(log_masks, log_vague)
    weights = np.exp(log_all - np.max(log_all))  # a log-sum-exp without SciPy's call overhead
    weights /= weights.sum()
    return Posterior(mask_weights=weights[:-1], vague=float(weights[-1]))


def posterior_mean_answers(
    samples: dict[str, np.ndarray], counts: dict[str, np.ndarray], weights: Posterior, questions
) -> dict[str, np.ndarray]:
    """E[theta_q] under the posterior: {q: [answers]}."""
    means = {}
    for question in questions:
        observed = np.asarray(counts.get(question.key, np.zeros(len(question.answers))), float)
        dirichlet = (1.0 + observed) / (len(question.answers) + observed.sum())
        means[question.key] = (
            weights.mask_weights @ samples[question.key] + weights.vague * dirichlet
        )
    return means
