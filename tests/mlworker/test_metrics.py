"""Calibration of vote intervals: a perfect predictive covers exactly the nominal mass."""

import json

import numpy as np
import pytest

from mlworker import metrics


@pytest.mark.parametrize("votes", [1, 3, 15])
def test_a_predictive_equal_to_the_truth_covers_the_nominal_mass(votes):
    """Discrete votes: with the plain interval a perfect model would over-cover (N = 1 covers all)."""
    rng = np.random.default_rng(votes)
    p = rng.uniform(0.05, 0.95, 20000)
    first = rng.binomial(votes, p)
    samples = np.stack([p, 1 - p], axis=1)[:, :, None]  # one mask: the true probabilities
    report = metrics.evaluate({"q": samples}, {"q": np.stack([first, votes - first], axis=1)})
    for mass, share in report["q"]["coverage"].items():
        assert share == pytest.approx(int(mass) / 100, abs=0.015)


def test_an_overconfident_predictive_covers_too_little():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.3, 0.7, 5000)
    first = rng.binomial(15, p)
    confident = np.where(p > 0.5, 0.95, 0.05)
    samples = np.stack([confident, 1 - confident], axis=1)[:, :, None]
    report = metrics.evaluate({"q": samples}, {"q": np.stack([first, 15 - first], axis=1)})
    assert report["q"]["coverage"]["80"] < 0.4


def test_weighted_votes_that_round_to_none_leave_coverage_empty_and_the_report_storable():
    """A held-out question whose only votes came from a down-weighted volunteer (0.3 of a vote):
    nothing to check, so no coverage, and the report stays valid JSON (a version's metrics)."""
    samples = np.full((2, 2, 5), 0.5)
    counts = np.array([[0.3, 0.0], [0.0, 0.2]])
    report = metrics.evaluate({"q": samples}, {"q": counts})
    assert report["q"]["coverage"] == {} and report["q"]["items"] == 2
    json.dumps(report, allow_nan=False)
