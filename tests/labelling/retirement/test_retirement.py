"""The retirement maths against brute force: Bayes' rule on the joint of (votes so far, remaining
votes), summed component by component, the vague Dirichlet by numerical integration."""

import numpy as np
import pytest
from scipy import integrate, stats

from labelling.retirement import rule as retirement
from mlworker.questions import QuestionConfig

GALAXY = (
    QuestionConfig("shape", ("smooth", "featured")),
    QuestionConfig("edge-on", ("yes", "no"), (("shape", "featured"),)),
    QuestionConfig("bar", ("bar", "no-bar"), (("edge-on", "no"),)),
)
THREE_ANSWERS = (
    QuestionConfig("kind", ("round", "cigar", "disc")),
    QuestionConfig("spiral", ("yes", "no"), (("kind", "disc"),)),
)


def draw_samples(questions, masks: int, rng) -> dict[str, np.ndarray]:
    return {q.key: rng.dirichlet(np.ones(len(q.answers)), size=masks) for q in questions}


def likelihood(probabilities, counts) -> float:
    counts = np.asarray(counts)
    if counts.sum() == 0:
        return 1.0
    return float(stats.multinomial.pmf(counts, counts.sum(), probabilities))


def flat_dirichlet_integral(counts, answer=None, remaining=0, extra=0) -> float:
    """∫ Multinomial(counts; θ) [Binomial(extra; remaining, θ_answer)] dDirichlet(θ; 1, ..., 1)."""

    def integrand(*theta):
        value = likelihood(theta, counts)
        if answer is not None:
            value *= stats.binom.pmf(extra, remaining, theta[answer])
        return value

    if len(counts) == 2:
        return integrate.quad(lambda t: integrand(t, 1 - t), 0, 1, epsabs=1e-13)[0]
    return (
        2
        * integrate.dblquad(
            lambda t2, t1: integrand(t1, t2, max(0.0, 1 - t1 - t2)),
            0,
            1,
            0,
            lambda t1: 1 - t1,
            epsabs=1e-13,
        )[0]
    )


def brute_force_remaining(samples, counts, questions, key, answer, remaining, vague_weight):
    """p(K = j | votes) for answer `answer` of question `key`: [remaining + 1]."""
    masks = len(samples[key])
    zeros = {q.key: np.zeros(len(q.answers), int) for q in questions}
    counts = {**zeros, **counts}
    joint = np.zeros(remaining + 1)
    for mask in range(masks):
        votes = np.prod([likelihood(samples[q.key][mask], counts[q.key]) for q in questions])
        future = stats.binom.pmf(np.arange(remaining + 1), remaining, samples[key][mask, answer])
        joint += (1 - vague_weight) / masks * votes * future
    others = np.prod([flat_dirichlet_integral(counts[q.key]) for q in questions if q.key != key])
    for extra in range(remaining + 1):
        joint[extra] += (
            vague_weight * others * flat_dirichlet_integral(counts[key], answer, remaining, extra)
        )
    return joint / joint.sum()


CASES = [
    # questions, counts so far, question, remaining, vague weight
    (GALAXY, {"shape": [3, 0]}, "shape", 12, 0.1),
    (GALAXY, {"shape": [1, 4], "edge-on": [0, 4], "bar": [3, 1]}, "bar", 6, 0.1),
    (GALAXY, {"shape": [1, 4], "edge-on": [0, 4], "bar": [3, 1]}, "edge-on", 5, 0.3),
    (GALAXY, {"shape": [2, 1], "edge-on": [1, 0]}, "bar", 4, 0.0),
    (THREE_ANSWERS, {"kind": [1, 0, 3], "spiral": [2, 1]}, "kind", 7, 0.1),
    (THREE_ANSWERS, {"kind": [0, 2, 1], "spiral": [1, 0]}, "spiral", 3, 0.2),
]


@pytest.mark.parametrize("questions, counts, key, remaining, vague_weight", CASES)
def test_remaining_votes_match_brute_force(questions, counts, key, remaining, vague_weight):
    samples = draw_samples(questions, masks=7, rng=np.random.default_rng(remaining))
    counts = {k: np.array(v) for k, v in counts.items()}
    weights = retirement.posterior(samples, counts, questions, vague_weight=vague_weight)
    question = next(q for q in questions if q.key == key)
    observed = counts.get(key, np.zeros(len(question.answers), int))
    pmf = retirement.remaining_votes_pmf(samples[key], observed, weights, remaining)
    for answer in range(len(question.answers)):
        expected = brute_force_remaining(
            samples, counts, questions, key, answer, remaining, vague_weight
        )
        np.testing.assert_allclose(pmf[answer], expected, atol=1e-7)


def test_forecast_summaries_follow_from_the_brute_force_distribution():
    samples = draw_samples(GALAXY, masks=5, rng=np.random.default_rng(3))
    counts = {"shape": np.array([2, 2]), "edge-on": np.array([0, 2]), "bar": np.array([1, 1])}
    weights = retirement.posterior(samples, counts, GALAXY)
    result = retirement.forecast_question(samples["bar"], counts["bar"], weights, remaining=6)
    pmf = brute_force_remaining(samples, counts, GALAXY, "bar", 0, 6, retirement.VAGUE_WEIGHT)
    support = np.arange(7)
    mean_k = float(pmf @ support)
    cumulative = np.cumsum(pmf)
    low_k = next(k for k in support if cumulative[k] >= 0.05 - 1e-12)
    high_k = next(k for k in support if cumulative[k] >= 0.95 - 1e-12)
    assert result.mean[0] == pytest.approx((1 + mean_k) / 8)
    assert (result.low[0], result.high[0]) == pytest.approx(((1 + low_k) / 8, (1 + high_k) / 8))
    assert result.expected_change[0] == pytest.approx(float(pmf @ np.abs(support - mean_k)))
    assert result.mean.sum() == pytest.approx(1.0)


def test_the_posterior_weights_are_bayes_rule_over_the_components():
    samples = draw_samples(GALAXY, masks=4, rng=np.random.default_rng(5))
    counts = {"shape": np.array([1, 3]), "edge-on": np.array([1, 2])}
    weights = retirement.posterior(samples, counts, GALAXY, vague_weight=0.2)
    masks = [
        0.8
        / 4
        * likelihood(samples["shape"][t], [1, 3])
        * likelihood(samples["edge-on"][t], [1, 2])
        for t in range(4)
    ]
    vague = 0.2 * flat_dirichlet_integral([1, 3]) * flat_dirichlet_integral([1, 2])
    total = sum(masks) + vague
    np.testing.assert_allclose(weights.mask_weights, np.array(masks) / total, rtol=1e-9)
    assert weights.vague == pytest.approx(vague / total, rel=1e-9)


def test_votes_that_contradict_a_confident_model_hand_the_posterior_to_the_vague_component():
    confident = {"shape": np.tile([0.97, 0.03], (20, 1)), "edge-on": np.tile([0.5, 0.5], (20, 1))}
    confident["bar"] = confident["edge-on"]
    vague = [
        retirement.posterior(confident, {"shape": np.array(k)}, GALAXY).vague
        for k in ([3, 0], [2, 1], [1, 2], [0, 3])
    ]
    assert vague == sorted(vague)
    assert vague[0] < 0.05 and vague[2] > 0.8


def test_who_is_expected_to_reach_a_question_follows_the_posterior_mean_answers():
    samples = {
        "shape": np.tile([0.3, 0.7], (10, 1)),
        "edge-on": np.tile([0.2, 0.8], (10, 1)),
        "bar": np.tile([0.5, 0.5], (10, 1)),
    }
    result = retirement.forecast(samples, {}, GALAXY, remaining_volunteers=10, vague_weight=0.0)
    assert [result[key].remaining for key in ("shape", "edge-on", "bar")] == [
        10,
        7,
        6,
    ]  # 10 x 0.7, 10 x 0.7 x 0.8
    assert result["bar"].mean == pytest.approx([0.5, 0.5])


def test_bad_samples_are_refused_with_what_was_received():
    with pytest.raises(ValueError, match=r"expected an array \[samples, 2\], received \(4, 3\)"):
        retirement.posterior({"shape": np.ones((4, 3)) / 3}, {}, GALAXY[:1])
    with pytest.raises(ValueError, match="received -1"):
        retirement.forecast({}, {}, GALAXY, remaining_volunteers=-1)


# --- the rule ------------------------------------------------------------------------------------

RULE = retirement.Rule(limit=15, threshold=0.2, minimum_votes=3)


def galaxy_samples(smooth: float, edge_on: float, bar: float, spread=0.01, child_spread=None):
    """30 masks scattered around the given first-answer probabilities."""
    rng = np.random.default_rng(0)

    def around(p, spread):
        first = np.clip(rng.normal(p, spread, 30), 0.0, 1.0)
        return np.stack([first, 1 - first], axis=-1)

    child_spread = spread if child_spread is None else child_spread
    return {
        "shape": around(smooth, spread),
        "edge-on": around(edge_on, child_spread),
        "bar": around(bar, child_spread),
    }


def decide(samples, counts, rule=RULE):
    counts = {key: np.array(value) for key, value in counts.items()}
    return retirement.decide(
        samples, counts, GALAXY, classifications=int(counts["shape"].sum()), rule=rule
    )


def test_a_subject_below_the_minimum_of_votes_stays_however_sure_the_model():
    sure_smooth = galaxy_samples(smooth=0.99, edge_on=0.02, bar=0.02)
    assert not decide(sure_smooth, {"shape": [2, 0]}).retire
    three = decide(sure_smooth, {"shape": [3, 0]})
    assert three.retire and three.reason == retirement.REASON_MODEL


def test_the_limit_retires_whatever_the_model_says():
    torn = galaxy_samples(smooth=0.5, edge_on=0.5, bar=0.5, spread=0.2)
    assert not decide(torn, {"shape": [4, 4]}).retire
    at_limit = decide(torn, {"shape": [8, 7]})
    assert at_limit.retire and at_limit.reason == retirement.REASON_LIMIT


def test_questions_nobody_reaches_do_not_hold_a_smooth_subject_back():
    smooth = galaxy_samples(smooth=0.99, edge_on=0.5, bar=0.5, child_spread=0.2)
    result = decide(smooth, {"shape": [3, 0]})
    assert result.retire
    assert not result.forecasts["edge-on"].reached and not result.forecasts["bar"].reached


def test_an_unsettled_question_down_the_tree_holds_a_featured_subject_back():
    featured_unsure_bar = galaxy_samples(smooth=0.01, edge_on=0.02, bar=0.5, spread=0.15)
    counts = {"shape": [0, 4], "edge-on": [0, 4], "bar": [2, 2]}
    result = decide(featured_unsure_bar, counts)
    assert not result.retire and result.unsettled == ("bar",)
    featured_sure_bar = galaxy_samples(smooth=0.01, edge_on=0.02, bar=0.98)
    assert decide(featured_sure_bar, {"shape": [0, 4], "edge-on": [0, 4], "bar": [4, 0]}).retire


def test_votes_against_a_confident_model_keep_the_subject():
    sure_smooth = galaxy_samples(smooth=0.99, edge_on=0.02, bar=0.02)
    assert not decide(sure_smooth, {"shape": [1, 2], "edge-on": [0, 2], "bar": [0, 2]}).retire


def test_few_remaining_votes_settle_even_an_even_split():
    torn = galaxy_samples(smooth=0.5, edge_on=0.5, bar=0.5, spread=0.2)
    assert not decide(torn, {"shape": [3, 3], "edge-on": [1, 2], "bar": [1, 1]}).retire
    late = decide(torn, {"shape": [6, 6], "edge-on": [3, 3], "bar": [1, 2]})
    assert late.retire, {key: f.expected_change for key, f in late.forecasts.items()}


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"limit": 0, "threshold": 0.2}, "Invalid limit: expected an integer >= 1, received 0"),
        ({"limit": 15, "threshold": 0.0}, "Invalid threshold: expected 0 < threshold <= 1"),
        ({"limit": 15, "threshold": 0.2, "minimum_votes": 0}, "Invalid minimum_votes"),
        (
            {"limit": 15, "threshold": 0.2, "max_expected_change": -1.0},
            "Invalid max_expected_change: expected a number of votes >= 0, received -1.0",
        ),
    ],
)
def test_a_bad_rule_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        retirement.Rule(**arguments)


def test_an_even_split_with_five_votes_to_come_settles_by_expected_change_alone():
    """The masks agree on 0.5 and 5 of 10 votes say smooth: the 90% interval of the final fraction
    (1 to 4 of the 5 to come, width 0.2) is not narrower than 0.15, but E|K - E[K]| = 0.94 votes
    is below one, so the rule retires; a stricter expected change keeps asking."""
    torn = galaxy_samples(smooth=0.5, edge_on=0.98, bar=0.02, spread=0.001)
    counts = {"shape": [5, 5], "edge-on": [5, 0]}
    narrow = retirement.Rule(limit=15, threshold=0.15, minimum_votes=3)
    by_change = decide(torn, counts, rule=narrow)
    assert by_change.forecasts["shape"].width == pytest.approx(0.2)
    assert by_change.forecasts["shape"].expected_change == pytest.approx([0.94, 0.94], abs=0.01)
    assert by_change.retire and by_change.reason == retirement.REASON_MODEL
    strict = retirement.Rule(limit=15, threshold=0.15, minimum_votes=3, max_expected_change=0.5)
    stays = decide(torn, counts, rule=strict)
    assert not stays.retire and stays.unsettled == ("shape",)
