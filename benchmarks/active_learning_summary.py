"""The active-learning benchmark's figures from its curves: mean curves, savings at three targets
with paired intervals, the headline the issues read and issue 25's comparison of starts."""

import json
from pathlib import Path

import numpy as np

from benchmarks import savings

TARGETS = {"quarter": 0.25, "half": 0.5, "full": 1.0}
# The image sets of other kinds the README shows beside the galaxies: their runs write
# <output>_cells.json and <output>_tissue.json (`make bench-active-learning`), whose savings and
# coverage the galaxies' headline carries (as `second_dataset` and `third_dataset`).
SECOND_DATASET = "cells"
THIRD_DATASET = "tissue"
SECOND_DATASET_KEYS = (
    "saving_vs_scratch_random",
    "saving_vs_scratch_random_interval",
    "coverage_new_default_300",
    "coverage_new_default_by_labelled",
    "coverage_random_300",
    "rounds_worse_than_baseline",
    "rounds_worse_than_baseline_by_start",
)


def curve_array(curves: list, name: str) -> np.ndarray:
    return np.array([[point[name] for point in curve] for curve in curves])


def summarise(curves: dict, labelled: np.ndarray) -> dict:
    """Mean curves, savings at three targets with paired intervals, area between the curves."""
    random_nll = curve_array(curves["random"], "nll")
    summary = {}
    for strategy, strategy_curves in curves.items():
        nll, rmse = curve_array(strategy_curves, "nll"), curve_array(strategy_curves, "rmse")
        entry = {
            "nll_mean": nll.mean(0).tolist(),
            "nll_sem": (nll.std(0, ddof=1) / np.sqrt(len(nll))).tolist() if len(nll) > 1 else None,
            "rmse_mean": rmse.mean(0).tolist(),
            "baseline_nll_mean": curve_array(strategy_curves, "baseline_nll").mean(0).tolist(),
        }
        if strategy != "random":
            entry["saving"], entry["saving_interval"] = {}, {}
            for name, share in TARGETS.items():
                entry["saving"][name] = round(savings.saving(nll, random_nll, labelled, share), 3)
                entry["saving_interval"][name], entry["interval_method"] = savings.paired_interval(
                    lambda s, r, share=share: savings.saving(s, r, labelled, share), nll, random_nll
                )
            gap = (random_nll - nll).mean(0)
            entry["area_between_curves_nats"] = round(
                float(np.trapezoid(gap, labelled) / (labelled[-1] - labelled[0])), 4
            )
        summary[strategy] = entry
    return summary


def headline(by_start: dict, summary: dict, labelled: np.ndarray) -> dict:
    """The keys the issues read, for the scratch start: default strategy, savings, intervals,
    coverage; and the cells (every start's) worse than the baseline."""
    curves = by_start["scratch"]
    rivals = [s for s in summary if s != "random"]
    default = max(
        rivals, key=lambda s: (summary[s]["saving"]["full"], summary[s]["saving"]["half"])
    )
    worse_by_start = {
        start: sum(
            int(point["nll"] > point["baseline_nll"])
            for strategy_curves in start_curves.values()
            for curve in strategy_curves
            for point in curve
        )
        for start, start_curves in by_start.items()
    }
    worse = sum(worse_by_start.values())
    at_300 = int(np.argmin(np.abs(labelled - 300)))
    random_mean = summary["random"]["nll_mean"]
    return {
        "default_strategy": default,
        "saving": {s: summary[s]["saving"] for s in rivals},
        "saving_interval": {
            s: {k: summary[s]["saving_interval"][k] for k in ("half", "full")} for s in rivals
        },
        "rounds_worse_than_baseline": worse,
        "rounds_worse_than_baseline_by_start": worse_by_start,
        "coverage_random_300": coverage_at(curves["random"], at_300),
        "coverage_labelled": int(labelled[at_300]),
        "random_final_slope_per_100": round(
            float((random_mean[-1] - random_mean[-2]) / (labelled[-1] - labelled[-2]) * 100), 4
        ),
    }


def coverage_at(curves: list, index: int) -> dict:
    """Mean 50/80/95% coverage over seeds at point `index` of each curve."""
    return {
        mass: round(float(np.mean([curve[index]["coverage"][mass] for curve in curves])), 3)
        for mass in ("50", "80", "95")
    }


def coverage_by_labelled(curves: list, labelled: np.ndarray) -> dict:
    """Mean 50/80/95% coverage over seeds at every point: {labelled: {"50", "80", "95"}}."""
    return {str(int(n)): coverage_at(curves, index) for index, n in enumerate(labelled)}


def against_scratch(by_start: dict, labelled: np.ndarray, arguments) -> dict:
    """Issue 25's keys: every start-and-strategy's saving against scratch-random at a quarter,
    half and all of the budget, with paired BCa intervals; the new default's coverage near 300
    labels and at every point (issue 42); its pretraining time (none: the default does not
    pretrain); the levers screen's effects; the other image sets' savings and coverage (from
    their own result files, when there)."""
    reference = curve_array(by_start["scratch"]["random"], "nll")
    saved, intervals = {}, {}
    for start, start_curves in by_start.items():
        for strategy, curves in start_curves.items():
            if (start, strategy) == ("scratch", "random"):
                continue
            nll, arm = curve_array(curves, "nll"), f"{start}_{strategy}"
            saved[arm] = {
                name: round(savings.saving(nll, reference, labelled, share), 3)
                for name, share in TARGETS.items()
            }
            intervals[arm] = {
                name: savings.paired_interval(
                    lambda s, r, share=TARGETS[name]: savings.saving(s, r, labelled, share),
                    nll,
                    reference,
                )[0]
                for name in ("half", "full")
            }
    at_300 = int(np.argmin(np.abs(labelled - 300)))
    new = by_start.get("default", by_start["scratch"])["random"]
    keys = {
        "saving_vs_scratch_random": saved,
        "saving_vs_scratch_random_interval": intervals,
        "coverage_new_default_300": coverage_at(new, at_300),
        "coverage_new_default_by_labelled": coverage_by_labelled(new, labelled),
        "pretraining_seconds": 0.0,
        "levers": screened_levers(arguments.results_dir),
    }
    for key, name in (("second_dataset", SECOND_DATASET), ("third_dataset", THIRD_DATASET)):
        path = arguments.results_dir / f"{arguments.output}_{name}.json"
        if arguments.dataset is None and path.exists():
            other = json.loads(path.read_text())["headline"]
            keys[key] = {"name": name, **{k: other.get(k) for k in SECOND_DATASET_KEYS}}
    return keys


def screened_levers(results_dir: Path) -> dict:
    """Each lever's screened change of test NLL ({screen: headline["levers"]}, benchmarks/levers.py)."""
    found = {}
    for name in ("levers", "levers_more", "levers_consistency"):
        path = results_dir / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())["headline"]["levers"]
    return found
