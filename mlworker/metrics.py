"""Held-out quality per question: vote NLL, RMSE of vote fractions, calibration of intervals."""

import numpy as np

from mlworker.acquisition import log_vote_likelihood, vote_posterior

COVERAGE_MASSES = (0.5, 0.8, 0.95)


def _coverage(samples: np.ndarray, counts: np.ndarray, mass: float) -> float | None:
    """Share of (item, answer) pairs whose observed k falls in the central `mass` interval.

    Votes are discrete, so a plain interval [low_k, high_k] covers more than `mass` even for a
    perfect predictive (with N = 1 a 50% interval is often {0, 1}). Each observed k is given the
    slice [F(k - 1), F(k)] of the predictive CDF, and counts by the share of that slice inside
    [(1 - mass) / 2, (1 + mass) / 2] (the randomised PIT): a calibrated predictive covers `mass`
    exactly, in expectation. Weighted counts (volunteer reliability) are rounded to whole votes;
    None when none is left to check (every item's weighted votes round to 0).
    """
    counts = np.rint(counts).astype(np.int64)
    totals = counts.sum(axis=-1)
    inside, checked = 0.0, 0
    answers = samples.shape[1] if samples.shape[1] > 2 else 1
    low_edge, high_edge = (1.0 - mass) / 2.0, (1.0 + mass) / 2.0
    for total in np.unique(totals[totals > 0]):
        rows = totals == total
        for answer in range(answers):
            cumulative = np.cumsum(vote_posterior(samples[rows, answer, :], int(total)), axis=-1)
            observed = counts[rows, answer]
            upper = cumulative[np.arange(len(observed)), observed]
            lower = np.where(
                observed > 0, cumulative[np.arange(len(observed)), np.maximum(observed - 1, 0)], 0.0
            )
            overlap = np.clip(np.minimum(upper, high_edge) - np.maximum(lower, low_edge), 0, None)
            inside += float(np.sum(overlap / np.maximum(upper - lower, 1e-12)))
            checked += int(rows.sum())
    return inside / checked if checked else None


def evaluate(samples_by_question: dict[str, np.ndarray], counts: dict[str, np.ndarray]) -> dict:
    """Per question {"nll", "rmse", "coverage": {"50", "80", "95"}, "items"} over items with N > 0.

    nll: mean -log p(k | x) of the observed counts under the MC predictive (combinatorial term
    included, so it is comparable with the vote-noise floor). rmse: between the posterior mean
    vote fraction and the observed fraction k / N, over all answers.
    """
    report = {}
    for key, samples in samples_by_question.items():
        question_counts = np.asarray(counts[key])
        totals = question_counts.sum(axis=-1)
        seen = totals > 0
        if not np.any(seen):
            report[key] = {"nll": None, "rmse": None, "coverage": {}, "items": 0}
            continue
        observed_fraction = question_counts[seen] / totals[seen, None]
        predicted_fraction = samples[seen].mean(axis=-1)
        coverage = {
            str(int(mass * 100)): _coverage(samples[seen], question_counts[seen], mass)
            for mass in COVERAGE_MASSES
        }
        report[key] = {
            "nll": float(-log_vote_likelihood(samples[seen], question_counts[seen]).mean()),
            "rmse": float(np.sqrt(np.mean((predicted_fraction - observed_fraction) ** 2))),
            # Empty when the weighted votes round to no whole vote to check (a version's metrics
            # are stored as JSON, which has no NaN).
            "coverage": {mass: share for mass, share in coverage.items() if share is not None},
            "items": int(seen.sum()),
        }
    return report


def overall_coverage(report: dict, questions) -> dict:
    """The 50/80/95% coverage of `evaluate`'s report over every question, each weighted by its
    items with votes: {"50", "80", "95"} (empty when no question has votes)."""
    weights = np.array([report[q.key]["items"] for q in questions], dtype=np.float64)
    if weights.sum() == 0:
        return {}
    return {
        str(int(mass * 100)): float(
            np.dot(
                weights,
                [report[q.key]["coverage"].get(str(int(mass * 100)), 0.0) for q in questions],
            )
            / weights.sum()
        )
        for mass in COVERAGE_MASSES
    }
