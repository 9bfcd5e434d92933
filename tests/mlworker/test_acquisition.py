import numpy as np
import pytest
from scipy import stats
from scipy.special import xlogy

from mlworker import acquisition


def brute_force_mi(probabilities, total_votes):
    """Independent computation with scipy.stats.binom, one item at a time."""
    result = []
    for row in probabilities:
        per_mask = np.array(
            [[stats.binom.pmf(k, total_votes, p) for k in range(total_votes + 1)] for p in row]
        )
        mean = per_mask.mean(axis=0)
        entropy_of_mean = -xlogy(mean, mean).sum()
        mean_entropy = np.mean([-xlogy(q, q).sum() for q in per_mask])
        result.append(entropy_of_mean - mean_entropy)
    return np.array(result)


def test_vote_posterior_matches_scipy_mixture():
    rng = np.random.default_rng(0)
    probabilities = rng.uniform(0.01, 0.99, (5, 7))
    posterior = acquisition.vote_posterior(probabilities, 12)
    expected = np.array(
        [
            [np.mean([stats.binom.pmf(k, 12, p) for p in row]) for k in range(13)]
            for row in probabilities
        ]
    )
    np.testing.assert_allclose(posterior, expected, atol=1e-6)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, atol=1e-9)


def test_binomial_mutual_information_matches_brute_force_sum():
    rng = np.random.default_rng(1)
    probabilities = rng.uniform(0.0, 1.0, (6, 9))
    np.testing.assert_allclose(
        acquisition.binomial_mutual_information(probabilities, 15),
        brute_force_mi(probabilities, 15),
        atol=1e-6,
    )


def test_confidently_disagreeing_masks_outrank_agreeing_uncertain_masks():
    disagree = np.array([[0.05, 0.95] * 5])
    agree_uncertain = np.full((1, 10), 0.5)
    assert (
        acquisition.binomial_mutual_information(disagree, 15)[0]
        > acquisition.binomial_mutual_information(agree_uncertain, 15)[0] + 0.5
    )


def test_identical_masks_carry_no_information_and_mi_is_never_negative():
    identical = np.full((3, 8), 0.3)
    np.testing.assert_allclose(
        acquisition.binomial_mutual_information(identical, 20), 0.0, atol=1e-9
    )
    rng = np.random.default_rng(2)
    assert np.all(acquisition.binomial_mutual_information(rng.uniform(size=(200, 5)), 10) >= 0)


def test_multinomial_mi_equals_binomial_for_two_answers_and_matches_brute_force_for_three():
    rng = np.random.default_rng(3)
    first = rng.uniform(0.05, 0.95, (4, 6))
    two = np.stack([first, 1 - first], axis=1)
    np.testing.assert_allclose(
        acquisition.multinomial_mutual_information(two, 9),
        acquisition.binomial_mutual_information(first, 9),
    )
    three = rng.dirichlet([1, 1, 1], size=(4, 6)).transpose(0, 2, 1)  # [items, answers, samples]
    total = 5
    expected = []
    for item in three:
        splits = [(a, b, total - a - b) for a in range(total + 1) for b in range(total + 1 - a)]
        per_mask = np.array(
            [[stats.multinomial.pmf(s, total, item[:, t]) for s in splits] for t in range(6)]
        )
        mean = per_mask.mean(0)
        expected.append(-xlogy(mean, mean).sum() - np.mean([-xlogy(q, q).sum() for q in per_mask]))
    np.testing.assert_allclose(
        acquisition.multinomial_mutual_information(three, total), expected, atol=1e-6
    )


def test_credible_interval_covers_the_requested_mass():
    posterior = acquisition.vote_posterior(np.full((1, 4), 0.4), 20)
    low, high = acquisition.credible_interval(posterior, 0.9)
    mass = posterior[0, low[0] : high[0] + 1].sum()
    assert 0.9 <= mass < 0.99
    assert low[0] <= 8 <= high[0]


@pytest.mark.parametrize("strategy", acquisition.STRATEGIES)
def test_every_strategy_returns_distinct_indices_of_the_batch_size(strategy):
    rng = np.random.default_rng(4)
    scores = rng.uniform(size=300)
    features = rng.normal(size=(300, 8))
    picked = acquisition.select(strategy, scores, 25, rng, features=features)
    assert len(picked) == 25 and len(set(picked.tolist())) == 25
    assert picked.min() >= 0 and picked.max() < 300


def test_top_k_returns_the_best_in_order():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert acquisition.top_k(scores, 3).tolist() == [1, 3, 2]


def test_diverse_selection_avoids_near_duplicates():
    # 10 copies of one high-scoring look-alike and 10 distinct slightly lower items.
    rng = np.random.default_rng(5)
    features = np.concatenate(
        [np.zeros((10, 4)) + rng.normal(0, 1e-3, (10, 4)), rng.normal(0, 3, (10, 4))]
    )
    scores = np.concatenate([np.full(10, 1.0), np.full(10, 0.8)])
    top = acquisition.select("bald", scores, 5, rng)
    diverse = acquisition.select("diverse_bald", scores, 5, rng, features=features)
    assert np.sum(top < 10) == 5
    assert np.sum(diverse < 10) <= 2


def test_power_bald_prefers_high_scores_but_not_only_them():
    rng = np.random.default_rng(6)
    scores = np.linspace(0.01, 1.0, 1000)
    picks = np.concatenate([acquisition.select("power_bald", scores, 50, rng) for _ in range(20)])
    assert np.mean(picks) > 600  # biased to high scores
    assert np.min(picks) < 400  # yet still samples lower ones


def test_unknown_strategy_is_refused_with_the_options():
    with pytest.raises(ValueError, match="expected one of"):
        acquisition.select("greedy", np.ones(3), 1, np.random.default_rng())
