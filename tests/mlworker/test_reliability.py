"""Volunteer reliability from the votes alone: each kind of bad behaviour is found, honest
volunteers keep their weight, and sessions from one address are judged together."""

import numpy as np
import pytest

from mlworker import reliability

SUBJECTS = 400


def crowd(kinds: list[str], votes_each: int, seed: int = 0, groups=None, subjects=SUBJECTS):
    """Two questions (yes/no; three answers), true p per subject; one answer per question per
    subject a volunteer sees. Returns (Votes, estimate)."""
    rng = np.random.default_rng(seed)
    p = [rng.dirichlet([0.5, 0.5], subjects), rng.dirichlet([0.4, 0.4, 0.4], subjects)]
    columns = {name: [] for name in ("volunteer", "subject", "question", "answer")}
    for volunteer, kind in enumerate(kinds):
        for subject in rng.choice(subjects, votes_each, replace=False):
            for question, shares in enumerate(p):
                width = shares.shape[1]
                if kind == "honest":
                    answer = rng.choice(width, p=shares[subject])
                elif kind == "one-button":
                    answer = 0
                elif kind == "random":
                    answer = rng.integers(width)
                else:  # hostile: the opposite of the truth
                    answer = rng.choice(width, p=(1 - shares[subject]) / (width - 1))
                for name, value in zip(
                    columns, (volunteer, subject, question, answer), strict=True
                ):
                    columns[name].append(value)
    votes = reliability.Votes.from_lists(
        **columns, answers_per_question=(2, 3), volunteers=len(kinds), subjects=subjects
    )
    return votes, reliability.estimate(votes, groups=groups)


def test_each_kind_of_bad_volunteer_is_found_in_a_small_crowd_and_honest_ones_are_not():
    kinds = ["honest"] * 20 + ["one-button", "random", "hostile"] * 2
    _, found = crowd(kinds, votes_each=60)
    honest = np.array(kinds) == "honest"
    assert np.all(found.flagged[~honest]) and not np.any(found.flagged[honest])
    kinds_found = found.kind()
    assert kinds_found[20] == "careless" and kinds_found[22] == "hostile"
    assert kinds_found[21] != "honest"  # random answers: careless or hostile, both bad
    assert np.all(found.weight[honest] > 0.95)
    # Honest volunteers agree with the others more often than any bad one does.
    agreement = np.nanmean(found.agreement, axis=1)
    assert agreement[honest].min() > agreement[~honest].max()


def test_a_new_volunteer_starts_trusted_but_light():
    votes, found = crowd(["honest"] * 10, votes_each=30)
    late = reliability.Votes(
        votes.volunteer, votes.subject, votes.question, votes.answer, votes.answers_per_question,
        volunteers=11, subjects=SUBJECTS,
    )  # fmt: skip
    newcomer = reliability.estimate(late)
    assert newcomer.votes[10] == 0
    assert newcomer.weight[10] == pytest.approx(reliability.KIND_PRIOR[0])
    assert not newcomer.flagged[10]


def test_many_sessions_from_one_address_are_judged_together():
    """Ten hostile sessions of two subjects each: alone, most are too little evidence to flag; as
    one address they are flagged together, and the honest volunteers (no shared address) are not."""
    kinds = ["honest"] * 15 + ["hostile"] * 10
    groups = np.array([-1] * 15 + [7] * 10)
    _, alone = crowd(kinds, votes_each=2, seed=3, subjects=10)
    _, together = crowd(kinds, votes_each=2, seed=3, subjects=10, groups=groups)
    assert np.sum(alone.flagged[15:]) < 5
    assert np.all(together.flagged[15:]) and not np.any(together.flagged[:15])


def test_weighted_counts_are_sums_of_the_voters_weights_raw_counts_without():
    votes = reliability.Votes.from_lists(
        [0, 1, 1, 2], [0, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0],
        answers_per_question=(2,), volunteers=3, subjects=2,
    )  # fmt: skip
    raw = reliability.weighted_counts(votes)[0]
    np.testing.assert_array_equal(raw, [[1, 2], [1, 0]])
    weighted = reliability.weighted_counts(votes, np.array([1.0, 0.5, 0.0]))[0]
    np.testing.assert_array_equal(weighted, [[0, 1.5], [0.5, 0]])


def test_votes_out_of_range_are_refused_with_what_was_wrong():
    with pytest.raises(ValueError, match="an answer index outside"):
        reliability.Votes.from_lists(
            [0], [0], [0], [2], answers_per_question=(2,), volunteers=1, subjects=1
        )
    with pytest.raises(ValueError, match="a subject index outside 0..0"):
        reliability.Votes.from_lists(
            [0], [1], [0], [0], answers_per_question=(2,), volunteers=1, subjects=1
        )


def test_an_excluded_volunteer_weighs_nothing_and_informs_no_one_else():
    votes, found = crowd(["honest"] * 12, votes_each=40)
    excluded = np.zeros(12, bool)
    excluded[3] = True
    with_exclusion = reliability.estimate(votes, excluded=excluded)
    assert with_exclusion.weight[3] == 0 and with_exclusion.posterior[3, 0] > 0.9
    assert np.all(with_exclusion.weight[np.arange(12) != 3] > 0.9)
    # The others' agreement is now measured without the excluded volunteer's votes.
    assert not np.allclose(with_exclusion.agreement, found.agreement, equal_nan=True)


def test_the_models_posterior_sets_the_expected_answers_where_there_is_one():
    """One volunteer answering alone: with no one else to agree with, the model's posterior decides
    whether their answers look honest (a NaN row: no prediction, the crowd's shares instead)."""
    votes = reliability.Votes.from_lists(
        [0] * 40, range(40), [0] * 40, [1] * 20 + [0] * 20,
        answers_per_question=(2,), volunteers=1, subjects=40,
    )  # fmt: skip
    agrees = np.array([[0.05, 0.95]] * 20 + [[0.95, 0.05]] * 20)
    assert reliability.estimate(votes, prior=[agrees], prior_strength=10).kind() == ["honest"]
    assert reliability.estimate(votes, prior=[agrees[::-1]], prior_strength=10).kind() == [
        "hostile"
    ]
    unknown = np.full((40, 2), np.nan)
    assert reliability.estimate(votes, prior=[unknown]).weight[0] == pytest.approx(
        reliability.estimate(votes).weight[0]
    )
