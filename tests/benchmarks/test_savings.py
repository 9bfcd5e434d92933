"""Crossings, savings and paired intervals (benchmarks/savings.py)."""

import numpy as np
import pytest

from benchmarks import savings


def test_savings_are_zero_for_random_itself_and_exact_for_a_shifted_curve():
    labelled = np.array([100, 200, 300, 400, 500])
    random = np.array([[5.0, 4.0, 3.0, 2.5, 2.0], [5.2, 4.2, 3.2, 2.7, 2.2]])
    for share in (0.25, 0.5, 1.0):
        assert savings.saving(random, random, labelled, share) == pytest.approx(0.0)
    # A strategy 100 labels ahead of random reaches random's NLL at 500 labels with 400.
    ahead = np.array([[4.0, 3.0, 2.5, 2.0, 1.8], [4.2, 3.2, 2.7, 2.2, 2.0]])
    assert savings.saving(ahead, random, labelled, 1.0) == pytest.approx(0.2)
    assert savings.saving(random + 10, random, labelled, 1.0) == -1.0  # never gets there


def test_the_paired_interval_excludes_zero_only_for_a_real_difference():
    labelled = np.array([100, 200, 300, 400, 500])
    rng = np.random.default_rng(0)
    random = np.array([5.0, 4.0, 3.0, 2.5, 2.0]) + rng.normal(0, 0.05, (10, 5))
    same = random + rng.normal(0, 0.01, (10, 5))
    ahead = np.concatenate([random[:, 1:], random[:, -1:] - 0.5], axis=1)
    interval, _ = savings.paired_interval(
        lambda s, r: savings.saving(s, r, labelled, 1.0), same, random
    )
    assert interval[0] < 0 < interval[1]
    interval, _ = savings.paired_interval(
        lambda s, r: savings.saving(s, r, labelled, 1.0), ahead, random
    )
    assert interval[0] > 0.1


def test_label_saving_interpolates_where_a_curve_reaches_the_target():
    labelled = [100, 200, 300, 400]
    assert savings.first_crossing(labelled, [5.0, 4.0, 3.0, 2.0], 3.5) == 250.0
    assert savings.first_crossing(labelled, [5.0, 4.0, 3.9, 3.8], 3.5) == float("inf")


def test_the_saving_interpolates_to_where_the_transferred_curve_meets_the_target():
    labels = [10, 20, 40]
    scratch = np.array([[4.0, 3.0, 2.0], [4.0, 3.0, 2.0]])
    transfer = np.array([[3.0, 2.5, 1.5], [3.0, 2.5, 1.5]])
    # 2.0 lies halfway between 20 labels (2.5) and 40 (1.5): 30 labels, 1 - 30/40.
    assert savings.saving(transfer, scratch, labels) == pytest.approx(0.25)
    assert savings.saving(scratch + 1.0, scratch, labels) == -1.0  # never gets there
    assert savings.saving(transfer - 1.0, scratch, labels) == pytest.approx(0.75)  # at once


def test_the_first_crossing_interpolates_between_points():
    votes = np.array([0, 10, 25, 30])
    rmse = np.array([0.3, 0.2, 0.1, 0.05])
    assert savings.first_crossing(votes, rmse, 0.15) == pytest.approx(17.5)
    assert savings.first_crossing(votes, rmse, 0.3) == 0.0
    assert savings.first_crossing(votes, rmse, 0.01) == float("inf")
