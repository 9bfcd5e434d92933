"""The tree's joint vote outcome: enumeration, likelihoods and information against brute force."""

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.special import entr

from mlworker import outcomes


def binary(probabilities):
    """[items, T] probability of the first answer -> [items, 2, T]."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    return np.stack([probabilities, 1 - probabilities], axis=1)


def random_galaxy_samples(rng, items=4, masks=6):
    return {
        key: binary(rng.uniform(0.02, 0.98, (items, masks)))
        for key in ("smooth-or-featured", "edge-on", "bar")
    }


def brute_force_outcomes(samples, item, mask, volunteers):
    """Every (featured, edge-on yes, bar yes) outcome's probability with scipy.stats.binom."""
    p_featured = samples["smooth-or-featured"][item, 1, mask]
    p_edge_on = samples["edge-on"][item, 0, mask]
    p_bar = samples["bar"][item, 0, mask]
    probabilities = []
    for featured in range(volunteers + 1):
        for edge_on in range(featured + 1):
            for bar in range(featured - edge_on + 1):
                probabilities.append(
                    stats.binom.pmf(featured, volunteers, p_featured)
                    * stats.binom.pmf(edge_on, featured, p_edge_on)
                    * stats.binom.pmf(bar, featured - edge_on, p_bar)
                )
    return np.array(probabilities)


def brute_force_information(samples, item, volunteers):
    per_mask = np.array(
        [
            brute_force_outcomes(samples, item, mask, volunteers)
            for mask in range(samples["bar"].shape[-1])
        ]
    )
    mixture = per_mask.mean(axis=0)
    return entr(mixture).sum() - entr(per_mask).sum(axis=1).mean(), entr(mixture).sum()


def test_the_galaxy_tree_with_15_volunteers_has_816_outcomes_each_a_valid_walk(galaxy_questions):
    layout = outcomes.tree_layout(galaxy_questions)
    counts, _ = outcomes.enumerate_outcomes(layout, 15)
    assert len(counts) == 816 == len({tuple(row) for row in counts})
    featured, edge_on_total, bar_total = counts[:, 1], counts[:, 2:4].sum(1), counts[:, 4:6].sum(1)
    assert np.all(counts[:, :2].sum(1) == 15)
    assert np.all(edge_on_total == featured) and np.all(bar_total == counts[:, 3])


def test_joint_mutual_information_and_entropy_match_brute_force(galaxy_questions):
    samples = random_galaxy_samples(np.random.default_rng(0))
    info = outcomes.information(samples, galaxy_questions, 15)
    for item in range(4):
        mutual_information, entropy = brute_force_information(samples, item, 15)
        assert info["mutual_information"][item] == pytest.approx(mutual_information, abs=1e-8)
        assert info["predictive_entropy"][item] == pytest.approx(entropy, abs=1e-8)
    assert info["exact"]


def test_the_joint_score_is_not_the_sum_of_question_scores(galaxy_questions):
    """All heads share a mask: summing per-question MIs double-counts; the joint MI does not."""
    from mlworker import acquisition

    samples = random_galaxy_samples(np.random.default_rng(1))
    joint = outcomes.information(samples, galaxy_questions, 15)["mutual_information"]
    summed = sum(
        acquisition.multinomial_mutual_information(samples[q.key], 15) for q in galaxy_questions
    )
    assert not np.allclose(joint, summed, rtol=0.05)


def test_the_monte_carlo_estimate_is_stated_and_close_to_exact(galaxy_questions):
    samples = random_galaxy_samples(np.random.default_rng(2))
    exact = outcomes.information(samples, galaxy_questions, 15)
    estimate = outcomes.information(
        samples,
        galaxy_questions,
        15,
        max_exact_outcomes=10,
        draws_per_mask=400,
        rng=np.random.default_rng(3),
    )
    assert exact["exact"] and not estimate["exact"]
    np.testing.assert_allclose(
        estimate["mutual_information"], exact["mutual_information"], atol=0.05
    )


def test_a_surely_smooth_subject_scores_little_even_if_its_bar_masks_disagree(galaxy_questions):
    """Few volunteers reach the bar question of a smooth galaxy, so its disagreement is worth little."""
    masks = 6
    disagreeing_bar = binary([[0.05, 0.95] * (masks // 2)] * 2)
    samples = {
        "smooth-or-featured": binary([[0.99] * masks, [0.01] * masks]),
        "edge-on": binary([[0.01] * masks] * 2),
        "bar": disagreeing_bar,
    }
    scores = outcomes.information(samples, galaxy_questions, 15)["mutual_information"]
    assert scores[1] > 5 * scores[0]


def test_confidently_disagreeing_masks_outrank_agreeing_uncertain_ones(galaxy_questions):
    masks = 8
    samples = {
        "smooth-or-featured": binary([[0.02, 0.98] * (masks // 2), [0.5] * masks]),
        "edge-on": binary([[0.5] * masks] * 2),
        "bar": binary([[0.5] * masks] * 2),
    }
    info = outcomes.information(samples, galaxy_questions, 15)
    assert info["mutual_information"][0] > info["mutual_information"][1] + 0.5
    assert info["mutual_information"][1] == pytest.approx(0.0, abs=1e-9)


def test_a_three_answer_question_matches_scipy_multinomial():
    from mlworker.questions import QuestionConfig

    question = (QuestionConfig("shape", ("round", "cigar", "between")),)
    rng = np.random.default_rng(4)
    probabilities = rng.dirichlet([1, 1, 1], size=(2, 5)).transpose(0, 2, 1)  # [items, 3, T]
    info = outcomes.information({"shape": probabilities}, question, 6)
    for item in range(2):
        per_mask = np.array(
            [
                [
                    stats.multinomial.pmf(split, 6, probabilities[item, :, mask])
                    for split in itertools.product(range(7), repeat=3)
                    if sum(split) == 6
                ]
                for mask in range(5)
            ]
        )
        mixture = per_mask.mean(0)
        expected = entr(mixture).sum() - entr(per_mask).sum(1).mean()
        assert info["mutual_information"][item] == pytest.approx(expected, abs=1e-8)


def test_observed_and_expected_likelihoods_match_brute_force(galaxy_questions):
    samples = random_galaxy_samples(np.random.default_rng(5), items=2, masks=3)
    counts = {
        "smooth-or-featured": np.array([[5, 10], [15, 0]]),
        "edge-on": np.array([[3, 7], [0, 0]]),
        "bar": np.array([[6, 1], [0, 0]]),
    }
    observed = outcomes.observed_log_likelihood(samples, counts, galaxy_questions)
    for item in range(2):
        per_mask = [
            stats.binom.pmf(
                counts["smooth-or-featured"][item, 1], 15, samples["smooth-or-featured"][item, 1, t]
            )
            * stats.binom.pmf(
                counts["edge-on"][item, 0],
                counts["edge-on"][item].sum(),
                samples["edge-on"][item, 0, t],
            )
            * stats.binom.pmf(
                counts["bar"][item, 0], counts["bar"][item].sum(), samples["bar"][item, 0, t]
            )
            for t in range(3)
        ]
        assert observed[item] == pytest.approx(np.log(np.mean(per_mask)), abs=1e-8)

    truth = {
        key: value[:, :, 0]
        for key, value in random_galaxy_samples(np.random.default_rng(6), 2, 1).items()
    }
    expected, floor = outcomes.expected_log_likelihood(samples, truth, galaxy_questions, 15)
    for item in range(2):
        true_outcomes = brute_force_outcomes(
            {k: v[..., None] for k, v in truth.items()}, item, 0, 15
        )
        model = np.mean([brute_force_outcomes(samples, item, t, 15) for t in range(3)], axis=0)
        assert expected[item] == pytest.approx(np.sum(true_outcomes * np.log(model)), abs=1e-6)
        assert floor[item] == pytest.approx(-entr(true_outcomes).sum(), abs=1e-6)
    assert np.all(expected <= floor)  # no model beats the truth
