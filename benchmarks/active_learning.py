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
BCa bootstrap intervals over seeds (`scipy.stats.bootstrap`). The figures are summarised in
active_learning_summary.py and written into the README by active_learning_readme.py.

    .venv/bin/python -m benchmarks.active_learning --preset smoke      # a few minutes
    .venv/bin/python -m benchmarks.active_learning --preset standard   # the README's figures
    .venv/bin/python -m benchmarks.active_learning --preset every-strategy
    .venv/bin/python -m benchmarks.active_learning --dataset data.npz --no-rotation-invariant
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import common, plots, runs
from benchmarks.active_learning_summary import against_scratch, headline, summarise

# Rounds cost the time (each one a fit, a test pass and a pool scoring), labels do not: 4 rounds
# of 125 reach 600 labels. Random against the default strategy only: each strategy adds a fit, a
# test pass and a pool scoring to every round of every seed (`--preset every-strategy` runs them
# all); the result file's `seconds` is the measured duration. `make bench-active-learning` runs
# this preset as it is.
STANDARD = dict(
    pool=2000,
    test=2000,
    initial=100,
    batch=125,
    rounds=4,
    samples=50,
    seeds=8,
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


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Active learning vs random, simulated votes")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    for name in ("pool", "test", "initial", "batch", "rounds", "samples", "image-size"):
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
    parser.add_argument(
        "--exploration-share",
        type=float,
        default=common.production_exploration_share(),
        help="share of a round's picks drawn at random from the rest (production's by default)",
    )
    parser.add_argument(
        "--from-partial",
        type=Path,
        help="summarise the seeds a cut-short run finished (its .partial.json) instead of running",
    )
    runs.add_run_arguments(parser, "active_learning")
    arguments = runs.with_preset(parser.parse_args(argv), PRESETS)
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
        "settings": runs.arguments_record(arguments),
        "training": {start: vars(training_settings(arguments, start)[0]) for start in by_start},
        "seconds": seconds,
        "command": runs.command("active_learning", argv),
    }
    path = runs.write_result(result, arguments.results_dir, arguments.output)
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
    return runs.run_seeds_resumable(run_seed, arguments, range(arguments.seeds))


if __name__ == "__main__":
    main()
