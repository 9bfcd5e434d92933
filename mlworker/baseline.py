"""The image-free baseline: a Dirichlet-multinomial per question (beta-binomial for two answers).

It ignores the image and predicts every subject's votes from the vote fractions seen in training,
with their spread across subjects. A model that looks at the image must beat it on held-out
subjects, or its uncertainty is not worth steering volunteers with. NumPy/SciPy only.

    log DM(k; N, alpha) = log N! - sum_a log k_a! + lgamma(A) - lgamma(N + A)
                          + sum_a [lgamma(k_a + alpha_a) - lgamma(alpha_a)],   A = sum_a alpha_a
"""

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

from mlworker.outcomes import TreeLayout, exact_space, true_log_likelihood

# log(alpha) is kept within these bounds: from very overdispersed to nearly a plain multinomial.
LOG_ALPHA_BOUNDS = (-5.0, 9.0)


def log_pmf(alpha: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Dirichlet-multinomial log-probability: alpha [answers], counts [..., answers] -> [...]."""
    counts = np.asarray(counts, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    total = counts.sum(axis=-1)
    return (
        gammaln(total + 1)
        - gammaln(counts + 1).sum(axis=-1)
        + gammaln(alpha.sum())
        - gammaln(total + alpha.sum())
        + (gammaln(counts + alpha) - gammaln(alpha)).sum(axis=-1)
    )


def fit_question(counts: np.ndarray) -> np.ndarray:
    """Maximum-likelihood alpha [answers] from counts int [items, answers] (rows with N = 0 skipped).

    With no votes at all, a uniform Dirichlet (alpha = 1 each).
    """
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts.sum(axis=-1) > 0]
    answers = counts.shape[-1]
    if len(counts) == 0:
        return np.ones(answers)
    fractions = (counts.sum(axis=0) + 0.5) / (counts.sum() + 0.5 * answers)
    start = np.log(fractions * 2.0)

    def negative(log_alpha):
        return -log_pmf(np.exp(log_alpha), counts).sum()

    result = minimize(negative, start, method="L-BFGS-B", bounds=[LOG_ALPHA_BOUNDS] * answers)
    return np.exp(result.x)


def fit(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{question: counts [items, answers]} -> {question: alpha [answers]}."""
    return {key: fit_question(value) for key, value in counts.items()}


def observed_log_likelihood(
    alphas: dict[str, np.ndarray], counts: dict[str, np.ndarray]
) -> np.ndarray:
    """log p(y_observed) of each item's votes, summed over questions (N = 0 contributes 0): [items]."""
    return sum(log_pmf(alphas[key], counts[key]) for key in alphas)


def outcome_log_likelihood(
    alphas: dict[str, np.ndarray], layout: TreeLayout, counts: np.ndarray
) -> np.ndarray:
    """log p(y) for tree outcomes counts [outcomes, width] in the layout's order -> [outcomes]."""
    return sum(
        log_pmf(alphas[key], counts[:, offset : offset + answers])
        for key, answers, offset in zip(layout.keys, layout.answers, layout.offsets, strict=True)
    )


def expected_log_likelihood(
    alphas: dict[str, np.ndarray],
    true_probabilities: dict[str, np.ndarray],
    questions: Sequence,
    volunteers: int,
) -> np.ndarray:
    """E_{y ~ true p}[log p_baseline(y)] per item, exact by enumerating the tree's outcomes."""
    layout, counts, log_coefficient = exact_space(questions, volunteers)
    log_truth = true_log_likelihood(true_probabilities, layout, counts, log_coefficient)
    return np.exp(log_truth) @ outcome_log_likelihood(alphas, layout, counts)
