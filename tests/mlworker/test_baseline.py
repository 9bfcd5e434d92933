"""The image-free baseline: Dirichlet-multinomial per question."""

import numpy as np
import pytest
from scipy import stats

from mlworker import baseline


def test_two_answers_match_scipy_beta_binomial():
    alpha = np.array([0.7, 2.5])
    counts = np.array([[k, 12 - k] for k in range(13)])
    expected = stats.betabinom.logpmf(np.arange(13), 12, alpha[0], alpha[1])
    np.testing.assert_allclose(baseline.log_pmf(alpha, counts), expected, atol=1e-10)


def test_three_answers_match_scipy_dirichlet_multinomial():
    alpha = np.array([0.4, 1.5, 3.0])
    counts = np.array([[2, 3, 5], [0, 0, 10], [7, 1, 2]])
    expected = [stats.dirichlet_multinomial.logpmf(row, alpha, 10) for row in counts]
    np.testing.assert_allclose(baseline.log_pmf(alpha, counts), expected, atol=1e-10)


def test_no_votes_contribute_nothing():
    assert baseline.log_pmf(np.array([0.5, 0.5]), np.array([[0, 0]]))[0] == pytest.approx(0.0)


def test_the_fit_recovers_a_u_shaped_prior_from_all_or_nothing_votes():
    """Votes that are either nearly all 'smooth' or nearly all 'featured' need alpha < 1 each."""
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 0.6, size=3000)
    first = rng.binomial(15, p)
    alpha = baseline.fit_question(np.stack([first, 15 - first], axis=1))
    np.testing.assert_allclose(alpha, [0.3, 0.6], rtol=0.15)


def test_the_fit_beats_the_pooled_multinomial_on_overdispersed_votes():
    rng = np.random.default_rng(1)
    p = rng.beta(0.5, 0.5, size=500)
    first = rng.binomial(15, p)
    counts = np.stack([first, 15 - first], axis=1)
    alpha = baseline.fit_question(counts)
    pooled = counts.sum(0) / counts.sum()
    pooled_ll = stats.binom.logpmf(first, 15, pooled[0]).sum()
    assert baseline.log_pmf(alpha, counts).sum() > pooled_ll + 1000


def test_questions_nobody_reached_fit_a_uniform_prior():
    assert baseline.fit_question(np.zeros((5, 2))).tolist() == [1.0, 1.0]
