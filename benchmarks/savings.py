"""Crossings and savings: where a curve reaches a target, the share of labels or votes saved, and
paired bootstrap intervals over seeds."""

import numpy as np


def first_crossing(xs, ys, target: float) -> float:
    """The x at which the curve (xs ascending, ys) first comes down to `target`, linear between
    points (xs[0] when it starts there); inf if it never does."""
    ys = np.asarray(ys, dtype=np.float64)
    below = np.flatnonzero(ys <= target + 1e-12)
    if len(below) == 0:
        return float("inf")
    index = below[0]
    if index == 0:
        return float(xs[0])
    share = (ys[index - 1] - target) / (ys[index - 1] - ys[index])
    return float(xs[index - 1] + share * (xs[index] - xs[index - 1]))


def share_saved(needed, budget):
    """1 - needed / budget, floored at -1 (-1 too when never reached: needed inf); arrays alike."""
    return np.maximum(-1.0, 1.0 - np.asarray(needed, dtype=np.float64) / budget)


def saving(curves: np.ndarray, reference: np.ndarray, xs, share: float = 1.0) -> float:
    """The share of x (labels) saved: 1 - (x the mean of `curves` needs) / (x the mean of
    `reference` needed) to reach reference's mean at `share` of the budget beyond xs[0].
    curves, reference: [seeds, points], paired by seed; xs: [points]. -1 when never reached."""
    xs = np.asarray(xs)
    index = int(np.argmin(np.abs(xs - (xs[0] + share * (xs[-1] - xs[0])))))
    needed = first_crossing(xs, curves.mean(axis=0), reference[:, index].mean())
    return float(share_saved(needed, xs[index]))


def paired_interval(statistic, first: np.ndarray, second: np.ndarray) -> tuple[list, str]:
    """95% BCa interval of statistic(first, second) over seeds: each resample draws seeds, and a
    seed brings both of its rows (paired). first, second: [seeds, ...]."""
    from scipy import stats

    if len(first) < 3:
        return [float("nan"), float("nan")], "too few seeds"

    def on_seeds(index):
        index = np.asarray(index, dtype=int)
        return statistic(first[index], second[index])

    for method in ("BCa", "percentile"):
        result = stats.bootstrap(
            (np.arange(len(first)),),
            on_seeds,
            vectorized=False,
            n_resamples=2000,
            method=method,
            random_state=np.random.default_rng(0),
        )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return [round(float(low), 3), round(float(high), 3)], method
    return [float("nan"), float("nan")], "degenerate"
