import numpy as np
import pytest
from scipy import stats

from mlworker.losses import vote_count_nll


def test_two_answer_loss_equals_binomial_nll_up_to_the_constant():
    counts = np.array([[3, 7], [10, 0], [1, 1]])
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    full = vote_count_nll(counts, probabilities, drop_constant=False).numpy()
    expected = -stats.binom.logpmf(counts[:, 0], counts.sum(1), probabilities[:, 0])
    np.testing.assert_allclose(full, expected, rtol=1e-5)


def test_loss_matches_a_hand_computation():
    # k = 3 of N = 5 at p = 0.6: -(3 log 0.6 + 2 log 0.4)
    value = vote_count_nll(np.array([[3, 2]]), np.array([[0.6, 0.4]])).numpy()[0]
    assert value == pytest.approx(-(3 * np.log(0.6) + 2 * np.log(0.4)), rel=1e-5)


def test_loss_is_finite_at_probabilities_near_zero_and_one():
    value = vote_count_nll(np.array([[5, 0], [0, 5]]), np.array([[0.0, 1.0], [1.0, 0.0]])).numpy()
    assert np.all(np.isfinite(value)) and np.all(value > 10)


def test_subjects_nobody_voted_on_contribute_nothing():
    value = vote_count_nll(np.array([[0, 0, 0]]), np.array([[0.2, 0.3, 0.5]])).numpy()
    assert value[0] == pytest.approx(0.0, abs=1e-6)


def test_three_answer_loss_matches_scipy_multinomial():
    counts = np.array([[2, 3, 4]])
    probabilities = np.array([[0.2, 0.3, 0.5]])
    value = vote_count_nll(counts, probabilities, drop_constant=False).numpy()[0]
    assert value == pytest.approx(
        -stats.multinomial.logpmf(counts[0], 9, probabilities[0]), rel=1e-5
    )
