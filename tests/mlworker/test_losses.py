import math

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


def test_the_mixture_loss_is_minus_log_of_the_mean_likelihood_over_masks():
    from mlworker.losses import mixture_vote_nll

    counts = np.array([[4, 11, 3, 8], [15, 0, 0, 0]])  # root (2 answers), then a 2-answer question
    rng = np.random.default_rng(0)
    first = rng.uniform(0.05, 0.95, (2, 5))
    second = rng.uniform(0.05, 0.95, (2, 5))
    probabilities = np.stack([first, 1 - first, second, 1 - second], axis=-1)  # [items, masks, 4]
    loss = mixture_vote_nll(counts, probabilities.astype("float32"), answers=(2, 2)).numpy()
    for item in range(2):
        per_mask = [
            stats.binom.pmf(counts[item, 0], counts[item, :2].sum(), first[item, k])
            * stats.binom.pmf(counts[item, 2], counts[item, 2:].sum(), second[item, k])
            for k in range(5)
        ]
        # The combinatorial constant log C(N, k) of each question is dropped from the loss.
        constant = sum(
            np.log(math.comb(int(counts[item, s : s + 2].sum()), int(counts[item, s])))
            for s in (0, 2)
        )
        expected = -(np.log(np.mean(per_mask)) - constant)
        assert loss[item] == pytest.approx(expected, rel=1e-4)


def test_alpha_towards_zero_approaches_the_mean_of_the_per_mask_losses():
    from mlworker.losses import mixture_vote_nll

    counts = np.array([[6, 9]])
    probabilities = np.array([[[0.2, 0.8], [0.6, 0.4], [0.45, 0.55]]], dtype="float32")
    per_mask = vote_count_nll(np.repeat(counts, 3, 0), probabilities[0]).numpy()
    small_alpha = mixture_vote_nll(counts, probabilities, answers=(2,), alpha=1e-3).numpy()[0]
    assert small_alpha == pytest.approx(per_mask.mean(), rel=1e-3)
    mixture = mixture_vote_nll(counts, probabilities, answers=(2,), alpha=1.0).numpy()[0]
    assert mixture < per_mask.mean()  # Jensen: the mixture is kinder than the average mask
