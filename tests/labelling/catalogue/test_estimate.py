"""The catalogue's best estimate against independent computations: Bayes' rule component by
component (Beta functions for the flat Dirichlet), the mixture's CDF on a fine grid, SciPy's Beta."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import betaln

from labelling.catalogue.estimate import best_estimate, mixture_quantile
from mlworker.mixture import VAGUE_WEIGHT
from mlworker.questions import QuestionConfig

SHAPE = QuestionConfig("shape", ("smooth", "featured"))
BAR = QuestionConfig("bar", ("bar", "no-bar"), (("shape", "featured"),))
KIND = QuestionConfig("kind", ("round", "cigar", "disc"))
GALAXY = (SHAPE, BAR)


def grid_quantiles(points, point_weights, beta_weight, alpha, beta, levels) -> list[float]:
    """inf{x: F(x) >= level} read off the mixture's CDF on a grid of 200,001 points (and the points)."""
    grid = np.sort(np.concatenate([np.linspace(0, 1, 200_001), points]))
    cdf = beta_weight * stats.beta.cdf(grid, alpha, beta)
    for point, weight in zip(points, point_weights, strict=True):
        cdf[grid >= point] += weight
    return [float(grid[np.argmax(cdf >= level - 1e-12)]) for level in levels]


def two_answer_mixture(points, smooth_votes, featured_votes):
    """The posterior over theta_smooth by Bayes' rule: weights of the points (theta^k (1-theta)^m,
    the multinomial coefficient common to all components) and of the flat Beta (its integral)."""
    masks = len(points)
    log_points = (
        np.log((1 - VAGUE_WEIGHT) / masks)
        + smooth_votes * np.log(points)
        + featured_votes * np.log1p(-points)
    )
    log_vague = np.log(VAGUE_WEIGHT) + betaln(1 + smooth_votes, 1 + featured_votes)
    log_all = np.append(log_points, log_vague)
    weights = np.exp(log_all - log_all.max())
    weights /= weights.sum()
    alpha, beta = 1 + smooth_votes, 1 + featured_votes
    mean = weights[:-1] @ points + weights[-1] * alpha / (alpha + beta)
    return weights[:-1], weights[-1], alpha, beta, mean


def model_samples(smooth: np.ndarray, bar: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "shape": np.stack([smooth, 1 - smooth], axis=1),
        "bar": np.stack([bar, 1 - bar], axis=1),
    }


@pytest.mark.parametrize("votes", [(0.0, 0.0), (3.0, 1.0), (2.5, 0.75), (0.0, 6.0)])
def test_the_model_estimate_is_the_mixture_posterior_by_bayes_rule(votes):
    smooth = np.array([0.55, 0.7, 0.8, 0.85, 0.9, 0.95])
    samples = model_samples(smooth, np.full(6, 0.3))
    counts = {"shape": np.array(votes)}
    estimate = best_estimate(counts, GALAXY, samples=samples)["shape"]
    point_weights, beta_weight, alpha, beta, mean = two_answer_mixture(smooth, *votes)
    assert estimate.mean[0] == pytest.approx(mean, abs=1e-12)
    assert estimate.mean.sum() == pytest.approx(1.0)
    expected = grid_quantiles(smooth, point_weights, beta_weight, alpha, beta, (0.05, 0.95))
    assert [estimate.low[0], estimate.high[0]] == pytest.approx(expected, abs=6e-6)


def test_with_no_votes_the_baseline_alone_is_its_dirichlet():
    alpha = {"shape": np.array([2.0, 0.5]), "bar": np.array([0.3, 3.0])}
    estimate = best_estimate({}, GALAXY, baseline_alpha=alpha)
    np.testing.assert_allclose(estimate["shape"].mean, [0.8, 0.2])
    np.testing.assert_allclose(estimate["shape"].low, stats.beta.ppf(0.05, [2.0, 0.5], [0.5, 2.0]))
    np.testing.assert_allclose(estimate["bar"].high, stats.beta.ppf(0.95, [0.3, 3.0], [3.0, 0.3]))


def test_weighted_votes_update_the_baseline_as_a_dirichlet_with_fractional_counts():
    alpha = {"shape": np.array([1.5, 1.0]), "bar": np.array([1.0, 1.0])}
    counts = {"shape": np.array([2.25, 0.5]), "bar": np.array([0.0, 0.0])}
    estimate = best_estimate(counts, GALAXY, baseline_alpha=alpha, mass=0.5)["shape"]
    np.testing.assert_allclose(estimate.mean, [3.75 / 5.25, 1.5 / 5.25])
    np.testing.assert_allclose(estimate.low[0], stats.beta.ppf(0.25, 3.75, 1.5))
    np.testing.assert_allclose(estimate.high[1], stats.beta.ppf(0.75, 1.5, 3.75))


def test_a_down_weighted_vote_moves_the_estimate_less_than_a_full_one():
    samples = model_samples(np.linspace(0.2, 0.9, 8), np.full(8, 0.5))
    means = [
        best_estimate({"shape": np.array([0.0, weight])}, GALAXY, samples=samples)["shape"].mean[0]
        for weight in (0.0, 0.2, 1.0)
    ]
    assert means[0] > means[1] > means[2]


def test_many_agreeing_votes_bring_it_near_the_vote_fraction_with_a_narrow_interval():
    samples = model_samples(np.linspace(0.1, 0.9, 20), np.full(20, 0.5))
    for prior in ({"samples": samples}, {"baseline_alpha": {"shape": [0.4, 0.4], "bar": [1, 1]}}):
        few = best_estimate({"shape": np.array([6.0, 14.0])}, GALAXY, **prior)["shape"]
        estimate = best_estimate({"shape": np.array([120.0, 280.0])}, GALAXY, **prior)["shape"]
        assert estimate.mean[0] == pytest.approx(0.3, abs=0.01)
        # Beta(121, 281)'s is 0.075 wide; the model's samples here are 0.042 apart
        assert estimate.high[0] - estimate.low[0] < 0.1 < few.high[0] - few.low[0]
        assert estimate.low[0] < 0.3 < estimate.high[0]


def test_the_interval_holds_the_mean_and_narrows_as_votes_come():
    rng = np.random.default_rng(4)
    samples = {"kind": rng.dirichlet([2.0, 2.0, 2.0], size=30)}
    widths = []
    # (a few votes against where the model's samples sit can widen it: they shift it first)
    for votes in (0, 16, 64):
        counts = {"kind": votes * np.array([0.5, 0.25, 0.25])}
        estimate = best_estimate(counts, (KIND,), samples=samples)["kind"]
        assert np.all(estimate.low <= estimate.mean) and np.all(estimate.mean <= estimate.high)
        widths.append(estimate.high - estimate.low)
    assert np.all(np.diff(np.array(widths), axis=0) < 0)


def test_votes_against_a_confident_model_overrule_it():
    sure = model_samples(np.full(10, 0.97), np.full(10, 0.5))
    alone = best_estimate({}, GALAXY, samples=sure)["shape"]
    one = best_estimate({"shape": np.array([0.0, 1.0])}, GALAXY, samples=sure)["shape"]
    eight = best_estimate({"shape": np.array([0.0, 8.0])}, GALAXY, samples=sure)["shape"]
    assert alone.mean[0] == pytest.approx(0.9 * 0.97 + 0.1 * 0.5)
    assert alone.mean[0] > one.mean[0] > eight.mean[0]
    assert eight.mean[0] < 0.15 and eight.high[0] < 0.35  # the votes' Beta(1, 9), not the model


def test_votes_on_one_question_reweigh_the_masks_for_an_unvoted_one():
    # Mask 1 says smooth and bar; mask 2 featured and no bar: smooth votes favour mask 1.
    samples = model_samples(np.array([0.9, 0.1]), np.array([0.9, 0.1]))
    prior = best_estimate({}, GALAXY, samples=samples)["bar"]
    after = best_estimate({"shape": np.array([5.0, 0.0])}, GALAXY, samples=samples)["bar"]
    assert prior.mean[0] == pytest.approx(0.5)
    assert after.mean[0] > 0.8


@pytest.mark.parametrize("seed", range(6))
def test_the_mixture_quantile_is_the_grid_quantile_of_its_cdf(seed):
    rng = np.random.default_rng(seed)
    points = rng.random((5, 1))
    points[2] = points[1]  # two masks alike: one jump of both weights
    beta_weight = (0.0, 0.05, 0.3, 0.9, 0.1, 0.5)[seed]
    point_weights = rng.dirichlet(np.ones(5)) * (1 - beta_weight)
    alpha, beta = rng.gamma(1.0, 2.0, size=2) + 0.1
    levels = (0.05, 0.5, 0.95, rng.random())
    got = mixture_quantile(points, point_weights, beta_weight, [alpha], [beta], levels)[:, 0]
    expected = grid_quantiles(points[:, 0], point_weights, beta_weight, alpha, beta, levels)
    assert got == pytest.approx(expected, abs=6e-6)


FLAT = {"shape": [1.0, 1.0], "bar": [1.0, 1.0]}
EVEN = model_samples(np.ones(2) / 2, np.ones(2) / 2)


@pytest.mark.parametrize(
    ("counts", "prior", "message"),
    [
        ({}, {}, "expected exactly one of samples .* received neither"),
        ({}, {"samples": EVEN, "baseline_alpha": FLAT}, "received both"),
        ({"shape": [1.0, -1.0]}, {"baseline_alpha": FLAT}, "votes >= 0, received \\[1.0, -1.0\\]"),
        ({"shape": [1.0, 2.0, 3.0]}, {"samples": EVEN}, "expected 2 finite numbers"),
        ({"shape": [np.nan, 1.0]}, {"baseline_alpha": FLAT}, "expected 2 finite numbers"),
        ({"colour": [1.0, 2.0]}, {"samples": EVEN}, "questions \\['colour'\\] are not in the tree"),
        ({}, {"samples": {"shape": np.ones((3, 2)) / 2}}, "Invalid samples for question 'bar'"),
        (
            {},
            {"samples": model_samples(np.array([0.5, 1.5]), np.ones(2) / 2)},
            "expected probabilities in \\[0, 1\\]",
        ),
        ({}, {"baseline_alpha": {"shape": [1.0, 0.0], "bar": [1, 1]}}, "2 positive numbers"),
        ({}, {"baseline_alpha": {"shape": [1.0, 1.0]}}, "baseline_alpha for question 'bar'"),
        ({}, {"baseline_alpha": FLAT, "mass": 1.0}, "0 < mass < 1"),
    ],
)
def test_bad_inputs_are_refused_saying_what_was_wrong(counts, prior, message):
    with pytest.raises(ValueError, match=message):
        best_estimate(counts, GALAXY, **prior)


def test_no_questions_is_refused():
    with pytest.raises(ValueError, match="at least one question"):
        best_estimate({}, (), baseline_alpha={})
