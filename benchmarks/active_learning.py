"""Does active learning save votes? The paper's experiment on synthetic galaxies (or any .npz).

Per seed: a pool, a test set and an initial random labelled set — the same for every strategy —
drawn from independent random streams (galaxies, votes and choices never share one). Each round
runs production's own functions (`mlworker.pipeline`): fit and evaluate on every labelled subject
(warm start, the fixed validation/held-out split), score the pool with T dropout masks (joint MI
of the tree's vote outcome), select by the strategy, and "ask volunteers" (Binomial(N, true p)
votes following the tree). On the test set: the expected vote NLL under the true p (exact, no
test-vote noise), RMSE of the predicted vote fractions against the true p, the calibration of the
vote intervals, and the image-free baseline fitted on the same labels. Savings: labels each
strategy needs to reach random's mean NLL at a quarter, half and all of the budget, with paired
BCa bootstrap intervals over seeds (`scipy.stats.bootstrap`).

    .venv/bin/python benchmarks/active_learning.py --preset smoke      # a few minutes
    .venv/bin/python benchmarks/active_learning.py --preset standard   # the README's figures
    .venv/bin/python benchmarks/active_learning.py --preset every-strategy
    .venv/bin/python benchmarks/active_learning.py --dataset data.npz --no-rotation-invariant
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common, plots  # noqa: E402

RESULTS = common.RESULTS
README_MARKER = "active-learning"
# Rounds cost the time (each one a fit, a test pass and a pool scoring), labels do not: 4 rounds
# of 125 reach 600 labels. Random against the default strategy only: each strategy adds 4 fits a
# seed, and with a third one (entropy, `--preset every-strategy`) 10 seeds no longer fit in 90
# minutes on 2 cores (`--jobs 2`); the result file's `seconds` is the measured duration.
STANDARD = dict(
    pool=2000,
    test=2000,
    initial=100,
    batch=125,
    rounds=4,
    samples=50,
    seeds=10,
    image_size=32,
    strategies="random,bald",
)
PRESETS = {
    "smoke": dict(
        pool=400,
        test=400,
        initial=60,
        batch=60,
        rounds=2,
        samples=20,
        seeds=2,
        image_size=24,
        strategies="random,bald",
    ),
    "standard": STANDARD,
    "every-strategy": {**STANDARD, "strategies": "random,bald,entropy,power_bald,diverse_bald"},
}
TARGETS = {"quarter": 0.25, "half": 0.5, "full": 1.0}
# The image set of another kind the README shows beside the galaxies: its run writes
# <output>_cells.json (`make bench-active-learning`), whose savings the galaxies' headline carries.
SECOND_DATASET = "cells"
SECOND_DATASET_KEYS = (
    "saving_vs_scratch_random",
    "saving_vs_scratch_random_interval",
    "coverage_new_default_300",
    "coverage_random_300",
    "rounds_worse_than_baseline",
    "rounds_worse_than_baseline_by_start",
)


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Active learning vs random, simulated votes")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    for name in ("pool", "test", "initial", "batch", "rounds", "samples", "seeds", "image-size"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--volunteers", type=int, default=15, help="votes per labelled subject")
    parser.add_argument("--epochs", type=int, help="maximum epochs a round (default: production's)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (production's)")
    parser.add_argument("--fresh-restarts", type=int, help="a first model's initialisations")
    parser.add_argument("--strategies", help="random,bald,entropy,power_bald,diverse_bald")
    parser.add_argument(
        "--starts",
        default="scratch,default",
        help="comma-separated: scratch (the model before issue 25), default (production's)",
    )
    parser.add_argument("--beta", type=float, default=1.0, help="power BALD exponent")
    parser.add_argument("--dataset", type=Path, help=".npz: images (n, h, w[, c]), p (n, q)")
    parser.add_argument("--rotation-invariant", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--jobs", type=int, default=1, help="seeds side by side, one process each")
    parser.add_argument(
        "--from-partial",
        type=Path,
        help="summarise the seeds a cut-short run finished (its .partial.json) instead of running",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the seeds <output>.partial.json holds (same settings) and run the rest",
    )
    parser.add_argument("--output", default="active_learning", help="result name")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    arguments = common.with_preset(parser.parse_args(argv), PRESETS)
    arguments.strategies = [s.strip() for s in arguments.strategies.split(",") if s.strip()]
    if "random" not in arguments.strategies:
        parser.error("--strategies must include random: savings are measured against it")
    arguments.starts = [s.strip() for s in arguments.starts.split(",") if s.strip()]
    unknown = set(arguments.starts) - set(common.STARTS)
    if unknown or "scratch" not in arguments.starts:
        parser.error(
            f"--starts: expected scratch and any of {sorted(common.STARTS)}, received "
            f"{arguments.starts}"
        )
    return arguments


def training_settings(arguments, start: str = "default"):
    """(training settings, config changes) of a start (common.STARTS), with the command line's
    epochs, patience and restarts."""
    return common.start_options(
        start,
        common.production_settings(
            epochs=arguments.epochs,
            patience=arguments.patience,
            fresh_restarts=arguments.fresh_restarts,
        ),
    )


def run_strategy(
    strategy: str, data: dict, seed: int, arguments, first, folder: Path, start: str
) -> list:
    """One learning curve from the shared first round `first` = (its version's folder, its flag,
    its test point); every version is saved under `folder`, as a round saves it.

    As in production (`pipeline.steering_version`), a version judged worse than the image-free
    baseline on its held-out split neither steers the next picks nor is warm-started from: the
    latest good version does both, or, before any, picks are random and the next round trains
    from random weights. `start`: how the model is built and trained (common.STARTS).
    """
    from mlworker import pipeline

    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    labelled = [int(i) for i in data["initial"]]
    first_folder, first_worse, point = first
    versions, flags, curve = [first_folder], [first_worse], [dict(point)]
    for round_number in range(1, arguments.rounds + 1):
        steering = pipeline.steering_version(flags)
        steering_from = None if steering is None else versions[steering]
        picked = common.pick(strategy, steering_from, data, labelled, arguments, rng)
        curve[-1]["picked_by"] = "model" if steering_from is not None else "random"
        curve[-1]["featured_share_of_picks"] = float(np.mean(data["pool_p"][picked, 0] < 0.5))
        labelled.extend(int(i) for i in picked)
        (settings, changes), round_seed = (
            training_settings(arguments, start),
            seed * 100 + round_number,
        )
        fitted = common.fit_round(
            data, labelled, round_seed, arguments, settings, steering_from, changes
        )
        curve.append({"labelled": len(labelled), **common.test_point(fitted, data, arguments)})
        versions.append(common.save_version(fitted, folder / f"{start}-{strategy}-{round_number}"))
        flags.append(fitted.worse_than_baseline)
    return curve


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
                entry["saving"][name] = round(common.saving(nll, random_nll, labelled, share), 3)
                entry["saving_interval"][name], entry["interval_method"] = common.paired_interval(
                    lambda s, r, share=share: common.saving(s, r, labelled, share), nll, random_nll
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


def against_scratch(by_start: dict, labelled: np.ndarray, arguments) -> dict:
    """Issue 25's keys: every start-and-strategy's saving against scratch-random at a quarter,
    half and all of the budget, with paired BCa intervals; the new default's coverage near 300
    labels; its pretraining time (none: the default does not pretrain); the levers screen's
    effects; the second image set's savings (from its own result file, when there)."""
    reference = curve_array(by_start["scratch"]["random"], "nll")
    savings, intervals = {}, {}
    for start, start_curves in by_start.items():
        for strategy, curves in start_curves.items():
            if (start, strategy) == ("scratch", "random"):
                continue
            nll, arm = curve_array(curves, "nll"), f"{start}_{strategy}"
            savings[arm] = {
                name: round(common.saving(nll, reference, labelled, share), 3)
                for name, share in TARGETS.items()
            }
            intervals[arm] = {
                name: common.paired_interval(
                    lambda s, r, share=TARGETS[name]: common.saving(s, r, labelled, share),
                    nll,
                    reference,
                )[0]
                for name in ("half", "full")
            }
    at_300 = int(np.argmin(np.abs(labelled - 300)))
    new = by_start.get("default", by_start["scratch"])["random"]
    keys = {
        "saving_vs_scratch_random": savings,
        "saving_vs_scratch_random_interval": intervals,
        "coverage_new_default_300": coverage_at(new, at_300),
        "pretraining_seconds": 0.0,
        "levers": screened_levers(arguments.results_dir),
    }
    second = arguments.results_dir / f"{arguments.output}_{SECOND_DATASET}.json"
    if arguments.dataset is None and second.exists():
        other = json.loads(second.read_text())["headline"]
        keys["second_dataset"] = {
            "name": SECOND_DATASET,
            **{key: other.get(key) for key in SECOND_DATASET_KEYS},
        }
    return keys


def screened_levers(results_dir: Path) -> dict:
    """Each lever's screened change of test NLL ({screen: headline["levers"]}, benchmarks/levers.py)."""
    found = {}
    for name in ("levers", "levers_more", "levers_consistency"):
        path = results_dir / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())["headline"]["levers"]
    return found


def strategy_rows(result: dict) -> list[str]:
    summary, labelled = result["summary"], result["labelled"]
    rows = [
        "| strategy | saved at a quarter of the budget | at half | at the full budget | "
        f"area between curves (nats) | test NLL at {labelled[-1]} |",
        "|---|---|---|---|---|---|",
    ]
    default = result["headline"]["default_strategy"]
    for strategy, entry in summary.items():
        final = f"{entry['nll_mean'][-1]:.3f}"
        if strategy == "random":
            rows.append(f"| random | — | — | — | — | {final} |")
            continue
        saving, bounds = entry["saving"], entry["saving_interval"]
        name = f"**{strategy} (default)**" if strategy == default else strategy
        cells = [
            f"{common.percent(saving[k])} ({common.interval(bounds[k])})"
            for k in ("quarter", "half", "full")
        ]
        rows.append(
            f"| {name} | {' | '.join(cells)} | {entry['area_between_curves_nats']:+.3f} | {final} |"
        )
    return rows


def cut_short(result: dict) -> list[str]:
    """Say so when the figures come from the seeds a cut-short run finished."""
    settings = result["settings"]
    if not settings.get("from_partial"):
        return []
    return [
        f"**Cut short:** these figures summarise the {settings['seeds']} seeds that a run "
        f"finished before it was stopped (`--from-partial {Path(settings['from_partial']).name}`), "
        f"with strategies {', '.join(settings['strategies'])} and {settings['rounds']} rounds.",
        "",
    ]


def coverage_lines(result: dict) -> list[str]:
    """Random's CNN's mean 50/80/95% coverage over seeds at every point from 300 labels on."""
    curves, masses = result["curves"]["random"], ("50", "80", "95")
    points = [
        f"{n}: "
        + " / ".join(
            f"{np.mean([curve[i]['coverage'][m] for curve in curves]):.0%}" for m in masses
        )
        for i, n in enumerate(result["labelled"])
        if n >= 300
    ]
    if not points:
        return []
    return ["- The same at every point from 300 labels on: " + "; ".join(points) + "."]


def gate_lines(result: dict) -> list[str]:
    """How often production's held-out gate stopped a version from steering, and the targets."""
    points = [p for curves in result["curves"].values() for c in curves for p in c]
    flagged = sum(bool(p.get("held_out_flagged_worse")) for p in points)
    random_picks = sum(p.get("picked_by") == "random" for p in points)
    lines = [
        f"- Versions production's held-out gate marked worse than the baseline: {flagged} of "
        f"{len(points)}; rounds whose picks were therefore random (no good version yet): "
        f"{random_picks}."
    ]
    rival = result["headline"]["default_strategy"]
    saving, intervals = (result["headline"][key][rival] for key in ("saving", "saving_interval"))
    met = all(saving[t] >= 0.35 and intervals[t][0] > 0 for t in ("half", "full"))
    lines.append(
        "- The issue's target (≥ 35% of labels saved at random's half- and full-budget NLL, 95% "
        f"intervals excluding 0) is **{'met' if met else 'not met'}** by {rival}."
    )
    return lines


def by_start_text(headline: dict) -> str:
    """ "scratch 1, default 0": the cells worse than the baseline, per start."""
    by_start = headline.get("rounds_worse_than_baseline_by_start")
    if not by_start:
        return str(headline["rounds_worse_than_baseline"])
    return ", ".join(f"{start} {count}" for start, count in by_start.items())


def start_rows(result: dict, name: str) -> list[str]:
    """One image set's table: each start and strategy against scratch-random (issue 25)."""
    headline, labelled = result["headline"], result["labelled"]
    savings = headline.get("saving_vs_scratch_random")
    if not savings:
        return []
    intervals, summaries = headline["saving_vs_scratch_random_interval"], result["summary_by_start"]
    rows = [
        f"| {name}: start and strategy | saved at a quarter | at half | at the full budget | "
        f"test NLL at {labelled[0]} / {labelled[-1]} |",
        "|---|---|---|---|---|",
    ]
    for start, by_strategy in summaries.items():
        for strategy, entry in by_strategy.items():
            nll = f"{entry['nll_mean'][0]:.3f} / {entry['nll_mean'][-1]:.3f}"
            arm = f"{start}_{strategy}"
            if arm not in savings:
                rows.append(f"| {start}, {strategy} (the reference) | — | — | — | {nll} |")
                continue
            quarter = common.percent(savings[arm]["quarter"])
            cells = [
                f"{common.percent(savings[arm][k])} ({common.interval(intervals[arm][k])})"
                for k in ("half", "full")
            ]
            rows.append(f"| {start}, {strategy} | {quarter} | {' | '.join(cells)} | {nll} |")
    return rows


def starts_lines(result: dict, cells: tuple | None) -> list[str]:
    """The comparison of today's model (scratch) with the new default, galaxies and cells."""
    if "summary_by_start" not in result:
        return []
    settings = result["training"].get("default", {})
    coverage = result["headline"]["coverage_new_default_300"]
    lines = [
        "",
        "### The model before issue 25 (scratch) against the new default",
        "",
        "Same seeds, data, test sets and first labels; `scratch` is one network, the better of two "
        "initialisations on the validation NLL, scored on the image as it is; `default` is "
        f"production's default: {settings.get('members', '?')} networks whose MC samples are "
        "pooled, scored under the image's 8 symmetries (README, levers). Labels saved to reach "
        "scratch-random's mean NLL at a quarter, half and all of the budget, paired BCa 95% "
        "intervals over seeds:",
        "",
        *start_rows(result, "galaxies"),
        "",
        f"- The new default with random picks, near 300 labels: 50/80/95% coverage "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
    ]
    if cells:
        other, when = cells
        lines += [
            "",
            f"Fluorescence cells (`benchmarks/datasets/cells.py`, RGB, two questions), the same "
            f"run on {other['settings']['seeds']} seeds (run of {when}, "
            f"{common.duration(other)}, `benchmarks/results/active_learning_cells.json`):",
            "",
            *start_rows(other, "cells"),
            "",
            "- Coverage near 300 labels, scratch-random / default-random: "
            + " and ".join(
                " / ".join(f"{c[m]:.0%}" for m in ("50", "80", "95"))
                for c in (
                    other["headline"]["coverage_random_300"],
                    other["headline"]["coverage_new_default_300"],
                )
            )
            + "; cells worse than the baseline: "
            + by_start_text(other["headline"])
            + ".",
        ]
    return lines


def readme_section(result: dict, when: str, active_learning_cells: tuple | None = None) -> str:
    """The README's active-learning section (between its markers), every figure from the result
    (and the second image set's, `active_learning_cells`: (result, date), when there)."""
    settings, headline, labelled = result["settings"], result["headline"], result["labelled"]
    summary = result["summary"]
    random_nll, baseline_nll = summary["random"]["nll_mean"], summary["random"]["baseline_nll_mean"]
    every = result.get("curves_by_start", {"scratch": result["curves"]})
    cells = sum(len(c) for by in every.values() for curves in by.values() for c in curves)
    coverage = headline["coverage_random_300"]
    lines = [
        "## Does active learning save votes? (`make bench-active-learning`)",
        "",
        f"Synthetic galaxies whose true answer probabilities follow from what is drawn "
        f"(`mlworker/synthetic.py`); per seed a pool of {settings['pool']:,} and a test set of "
        f"{settings['test']:,} at {settings['image_size']} px, galaxies, votes and choices from "
        f"independent random streams; {settings['volunteers']} simulated volunteers per labelled "
        f"galaxy voting Binomial(N, true p) down the tree; {settings['initial']} random labels to "
        f"start, then {settings['rounds']} rounds of {settings['batch']}; T = {settings['samples']} "
        f"masks; {settings['seeds']} seeds, every strategy starting from the same labelled set and "
        "the same first model. Each round runs production's own functions (`mlworker.pipeline`: "
        "fit on the train split, stop on the fixed validation split, judge on the held-out split; "
        "joint MI of the tree's vote outcome); as in production, a version judged worse than the "
        "image-free baseline neither picks the next subjects nor is warm-started from. Test NLL is the expected vote NLL of the whole "
        "tree under the true p (exact, no test-vote noise). Savings: labels needed to reach "
        "random's mean NLL at a quarter, half and all of the budget, with paired BCa bootstrap "
        "95% intervals over seeds. Figures from the run of "
        f"{when} ({common.duration(result)}, `benchmarks/results/active_learning.json`):",
        "",
        *cut_short(result),
        *strategy_rows(result),
        "",
        f"- Vote-noise floor (entropy of the true vote outcome): {result['vote_noise_floor_nll']:.3f}; "
        f"the image-free baseline (Dirichlet-multinomial per question, fitted on random's labels) "
        f"scores {baseline_nll[0]:.3f} at {labelled[0]} labels and {baseline_nll[-1]:.3f} at "
        f"{labelled[-1]}; random's CNN {random_nll[0]:.3f} and {random_nll[-1]:.3f}.",
        f"- Seed x round x strategy (x start) cells where the CNN's test NLL was above the "
        "baseline's: "
        f"**{headline['rounds_worse_than_baseline']} of {cells}**"
        + (
            f" ({by_start_text(headline)})"
            if "rounds_worse_than_baseline_by_start" in headline
            else ""
        )
        + ".",
        f"- Calibration of random's CNN at {headline['coverage_labelled']} labels (share of test "
        f"votes inside the central 50/80/95% vote intervals, randomised for discrete votes): "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
        *coverage_lines(result),
        *gate_lines(result),
        f"- Random's curve at the end of the budget falls {-headline['random_final_slope_per_100']:.3f} "
        "nats per 100 labels.",
        f"- Default strategy picked by this run: **{headline['default_strategy']}** "
        "(the largest saving at the full budget).",
        "",
        *starts_lines(result, active_learning_cells),
        "",
        "![active learning](benchmarks/results/active_learning.png)",
        "",
        "The same run works on any image set given as `.npz` (`images`, `p`): "
        "`python benchmarks/datasets/oriented_bars.py bars.npz` writes one whose answers depend "
        "on orientation, run with `--dataset bars.npz --no-rotation-invariant`. "
        "`--preset every-strategy` adds power and diverse BALD.",
    ]
    return "\n".join(lines)


def run_seed(seed: int, arguments) -> dict[str, dict[str, list[dict]]]:
    """Every start's and strategy's curve on one seed's data ({start: {strategy: curve}}); each
    start's strategies share its first version."""
    started = time.time()
    data = common.make_data(seed, arguments)
    labelled = [int(i) for i in data["initial"]]
    curves = {}
    with tempfile.TemporaryDirectory(prefix="starling-active-learning-") as folder:
        for start in arguments.starts:
            settings, changes = training_settings(arguments, start)
            fitted = common.fit_round(
                data, labelled, seed * 100, arguments, settings, None, changes
            )
            point = {"labelled": len(labelled), **common.test_point(fitted, data, arguments)}
            # Every strategy starts alike: from the same first version, if that one is good.
            saved = common.save_version(fitted, Path(folder) / f"{start}-first")
            first = (saved, fitted.worse_than_baseline, point)
            curves[start] = {}
            for strategy in arguments.strategies:
                curve = run_strategy(strategy, data, seed, arguments, first, Path(folder), start)
                curves[start][strategy] = curve
                print(
                    f"seed {seed} {start:>8} {strategy:>12}: "
                    + " ".join(
                        f"{p['labelled']}:{p['nll']:.3f}/{p['baseline_nll']:.3f}" for p in curve
                    )
                    + f"  ({time.time() - started:.0f} s)",
                    flush=True,
                )
    return curves


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    by_seed, seconds = seed_curves(arguments)
    by_start = {
        start: {s: [seed[start][s] for seed in by_seed] for s in arguments.strategies}
        for start in arguments.starts
    }
    curves = by_start["scratch"]
    floors = [curve[0]["floor"] for curve in curves["random"]]
    labelled = np.array([point["labelled"] for point in curves["random"][0]])
    summaries = {start: summarise(by_start[start], labelled) for start in arguments.starts}
    floor = float(np.mean(floors))
    result = {
        "headline": {
            **headline(by_start, summaries["scratch"], labelled),
            **against_scratch(by_start, labelled, arguments),
        },
        "labelled": labelled.tolist(),
        "vote_noise_floor_nll": floor,
        "summary": summaries["scratch"],
        "curves": curves,
        "summary_by_start": summaries,
        "curves_by_start": by_start,
        "settings": common.arguments_record(arguments),
        "training": {start: vars(training_settings(arguments, start)[0]) for start in by_start},
        "seconds": seconds,
        "command": common.command("active_learning.py", argv),
    }
    path = common.write_result(result, arguments.results_dir, arguments.output)
    arms = {f"{start} {s}": entry for start in summaries for s, entry in summaries[start].items()}
    plots.learning_curves(arms, labelled, floor, path)
    print(f"noise floor {floor:.3f}; {result['seconds']} s")
    return result


def seed_curves(arguments) -> tuple[list, float]:
    """Every seed's curves ({start: {strategy: curve}}, run_seed) and the seconds they took (a
    partial file's, with this run's when resumed)."""
    if arguments.from_partial:
        saved = json.loads(arguments.from_partial.read_text())
        arguments.seeds = len(saved["seeds"])
        return saved["seeds"], saved.get("seconds")
    return common.run_seeds_resumable(run_seed, arguments, range(arguments.seeds))


if __name__ == "__main__":
    main()
