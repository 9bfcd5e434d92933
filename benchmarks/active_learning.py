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
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import results_file  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
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


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description="Active learning vs random on simulated volunteers"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="smoke")
    for name in ("pool", "test", "initial", "batch", "rounds", "samples", "seeds", "image-size"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--volunteers", type=int, default=15, help="votes per labelled subject")
    parser.add_argument("--epochs", type=int, help="maximum epochs a round (default: production's)")
    parser.add_argument(
        "--patience", type=int, help="early-stopping patience (default: production's)"
    )
    parser.add_argument(
        "--fresh-restarts",
        type=int,
        help="initialisations a first model is trained from (default: production's)",
    )
    parser.add_argument(
        "--strategies", help="comma-separated: random,bald,entropy,power_bald,diverse_bald"
    )
    parser.add_argument("--beta", type=float, default=1.0, help="power BALD exponent")
    parser.add_argument(
        "--dataset", type=Path, help=".npz with images (n, h, w[, c]) and p (n, questions)"
    )
    parser.add_argument("--rotation-invariant", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--jobs", type=int, default=1, help="seeds run side by side, each in its own process"
    )
    parser.add_argument(
        "--from-partial",
        type=Path,
        help="summarise the seeds a cut-short run finished (its .partial.json) instead of running",
    )
    parser.add_argument("--output", default="active_learning", help="result name")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    for key, value in PRESETS[arguments.preset].items():
        if getattr(arguments, key) is None:
            setattr(arguments, key, value)
    arguments.strategies = [s.strip() for s in arguments.strategies.split(",") if s.strip()]
    if "random" not in arguments.strategies:
        parser.error("--strategies must include random: savings are measured against it")
    return arguments


def questions_for(p_columns: int, dataset: bool):
    """The galaxy tree (synthetic.GALAXY_QUESTIONS) or independent yes/no questions (a dataset)."""
    from mlworker import questions, synthetic

    if dataset:
        return questions.independent(p_columns)
    return questions.from_dicts(synthetic.GALAXY_QUESTIONS)


def make_data(seed: int, arguments) -> dict:
    """Pool, test set and initial labelled set of one seed, from independent streams."""
    from mlworker import synthetic

    streams = synthetic.streams(seed)
    choices = np.random.default_rng(streams["choices"])
    needed = arguments.pool + arguments.test
    if arguments.dataset:
        full = synthetic.load_npz_dataset(arguments.dataset)
        if len(full.p) < needed:
            raise SystemExit(
                f"--dataset has {len(full.p)} items: expected at least pool + test = {needed}"
            )
        order = choices.permutation(len(full.p))[:needed]
        images, p = full.images[order], full.p[order]
    else:
        galaxies = synthetic.make_galaxies(
            needed, size=arguments.image_size, seed=streams["galaxies"]
        )
        images, p = galaxies.images, galaxies.p
    questions = questions_for(p.shape[1], bool(arguments.dataset))
    counts = synthetic.simulate_vote_counts(
        p, arguments.volunteers, np.random.default_rng(streams["votes"]), questions
    )
    pool, test = slice(0, arguments.pool), slice(arguments.pool, needed)
    return {
        "questions": questions,
        "pool_images": images[pool],
        "pool_p": p[pool],
        "pool_counts": counts[pool],
        "test_images": images[test],
        "test_truth": {
            q.key: np.stack([p[test, i], 1 - p[test, i]], axis=-1) for i, q in enumerate(questions)
        },
        "test_counts": {q.key: counts[test, i] for i, q in enumerate(questions)},
        "initial": choices.choice(arguments.pool, arguments.initial, replace=False),
    }


def production_settings(**overrides):
    """Production's TrainingSettings with the fields given replaced (None: production's value)."""
    from dataclasses import replace

    from mlworker.pipeline import TrainingSettings

    return replace(TrainingSettings(), **{k: v for k, v in overrides.items() if v is not None})


def training_settings(arguments):
    return production_settings(
        epochs=arguments.epochs,
        patience=arguments.patience,
        fresh_restarts=arguments.fresh_restarts,
    )


def test_point(fit, data, arguments) -> dict:
    """The model of a round on the test set: expected NLL, baseline, RMSE, interval coverage."""
    from mlworker import baseline, metrics, outcomes, scoring

    questions = data["questions"]
    probabilities = scoring.mc_samples(fit.model, data["test_images"], samples=arguments.samples)
    expected, floor = outcomes.expected_log_likelihood(
        probabilities, data["test_truth"], questions, arguments.volunteers
    )
    base = baseline.expected_log_likelihood(
        fit.alphas, data["test_truth"], questions, arguments.volunteers
    )
    errors = [
        probabilities[q.key][:, 0, :].mean(axis=-1) - data["test_truth"][q.key][:, 0]
        for q in questions
    ]
    report = metrics.evaluate(probabilities, data["test_counts"])
    weights = np.array([report[q.key]["items"] for q in questions], dtype=np.float64)
    coverage = {
        mass: float(
            np.dot(weights, [report[q.key]["coverage"].get(mass, 0.0) for q in questions])
            / weights.sum()
        )
        for mass in ("50", "80", "95")
    }
    return {
        "nll": float(-expected.mean()),
        "baseline_nll": float(-base.mean()),
        "floor": float(-floor.mean()),
        "rmse": float(np.sqrt(np.mean(np.square(errors)))),
        "coverage": coverage,
        "held_out_flagged_worse": bool(fit.worse_than_baseline),
        "epochs": fit.training.epochs_run,
        "train_seconds": round(fit.training.seconds, 2),
    }


def fit_round(data: dict, labelled: list[int], seed: int, round_number: int, arguments, model):
    """Production's fit + held-out judgement on the labelled subjects, warm-started in place."""
    from mlworker import pipeline

    images = data["pool_images"]
    config = pipeline.model_config(
        data["questions"],
        image_size=images.shape[1],
        channels=1 if images.ndim == 3 else images.shape[-1],
    )
    counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(data["questions"])}
    return pipeline.fit_and_evaluate(
        images[labelled],
        counts,
        labelled,
        config,
        settings=training_settings(arguments),
        samples=arguments.samples,
        seed=seed * 100 + round_number,
        rotation_invariant=arguments.rotation_invariant,
        warm_start=model,
        continue_in_place=True,
    )


def pick(strategy: str, model, data: dict, labelled: list[int], arguments, rng) -> np.ndarray:
    """The subjects volunteers are asked about next: production's score + select with the latest
    good model, or random (the queue's order before any good model) when there is none."""
    from mlworker import pipeline, scoring

    images = data["pool_images"]
    pool = np.setdiff1d(np.arange(len(images)), labelled)
    if model is None:
        return pool[rng.permutation(len(pool))[: arguments.batch]]
    scored = pipeline.score(
        model,
        images[pool],
        volunteers=arguments.volunteers,
        samples=arguments.samples,
        strategy=strategy,
        rng=rng,
    )
    features = scoring.features(model, images[pool]) if strategy == "diverse_bald" else None
    return pool[
        pipeline.select(
            strategy, scored, arguments.batch, rng, features=features, beta=arguments.beta
        )
    ]


def run_strategy(strategy: str, data: dict, seed: int, arguments, first) -> list[dict]:
    """One learning curve from the shared first round `first` = (model copy or None, test point).

    As in production, a version judged worse than the image-free baseline on its held-out split
    neither steers the next picks nor is warm-started from: the latest good model does both (its
    weights are put back after the in-place fit), or, before any, picks are random and the next
    round trains from random weights.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    labelled = [int(i) for i in data["initial"]]
    good, point = first
    curve = [dict(point)]
    for round_number in range(1, arguments.rounds + 1):
        picked = pick(strategy, good, data, labelled, arguments, rng)
        curve[-1]["picked_by"] = "model" if good is not None else "random"
        curve[-1]["featured_share_of_picks"] = float(np.mean(data["pool_p"][picked, 0] < 0.5))
        labelled.extend(int(i) for i in picked)
        kept_weights = good.full.get_weights() if good is not None else None
        fit = fit_round(data, labelled, seed, round_number, arguments, good)
        curve.append({"labelled": len(labelled), **test_point(fit, data, arguments)})
        if not fit.worse_than_baseline:
            good = fit.model
        elif good is not None:  # trained in place: back to the good version's weights
            good.full.set_weights(kept_weights)
    return curve


def labels_to_reach(curve_labelled, curve_nll, target) -> float:
    """Labelled count at which the curve first reaches `target` NLL (linear interpolation); inf if never."""
    for index, (count, nll) in enumerate(zip(curve_labelled, curve_nll, strict=True)):
        if nll <= target:
            if index == 0:
                return float(count)
            previous_count, previous_nll = curve_labelled[index - 1], curve_nll[index - 1]
            return float(
                previous_count
                + (count - previous_count) * (previous_nll - target) / (previous_nll - nll)
            )
    return float("inf")


def target_index(labelled: np.ndarray, share: float) -> int:
    """The round at `share` of the budget (labels beyond the initial set)."""
    budget = labelled[-1] - labelled[0]
    return int(np.argmin(np.abs(labelled - (labelled[0] + share * budget))))


def saving(strategy_nll: np.ndarray, random_nll: np.ndarray, labelled, share: float) -> float:
    """1 - (labels the strategy's mean curve needs) / (labels random needed) to reach random's mean
    NLL at `share` of the budget; strategy_nll and random_nll are [seeds, rounds], paired by seed.
    Floored at -1 (a strategy that never gets there)."""
    index = target_index(np.asarray(labelled), share)
    target = random_nll[:, index].mean()
    needed = labels_to_reach(labelled, strategy_nll.mean(axis=0), target)
    return max(-1.0, 1.0 - needed / labelled[index]) if np.isfinite(needed) else -1.0


def paired_interval(statistic, first: np.ndarray, second: np.ndarray) -> tuple[list, str]:
    """95% BCa interval of statistic(first, second) over seeds: each resample draws seeds, and a
    seed brings both of its curves (paired). first, second: [seeds, rounds]."""
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
                entry["saving"][name] = round(saving(nll, random_nll, labelled, share), 3)
                entry["saving_interval"][name], entry["interval_method"] = paired_interval(
                    lambda s, r, share=share: saving(s, r, labelled, share), nll, random_nll
                )
            gap = (random_nll - nll).mean(0)
            entry["area_between_curves_nats"] = round(
                float(np.trapezoid(gap, labelled) / (labelled[-1] - labelled[0])), 4
            )
        summary[strategy] = entry
    return summary


def headline(curves: dict, summary: dict, labelled: np.ndarray) -> dict:
    """The keys the issues read: default strategy, savings, intervals, baseline cells, coverage."""
    rivals = [s for s in summary if s != "random"]
    default = max(
        rivals, key=lambda s: (summary[s]["saving"]["full"], summary[s]["saving"]["half"])
    )
    worse = sum(
        int(point["nll"] > point["baseline_nll"])
        for strategy_curves in curves.values()
        for curve in strategy_curves
        for point in curve
    )
    at_300 = int(np.argmin(np.abs(labelled - 300)))
    random_coverage = [curve[at_300]["coverage"] for curve in curves["random"]]
    random_mean = summary["random"]["nll_mean"]
    return {
        "default_strategy": default,
        "saving": {s: summary[s]["saving"] for s in rivals},
        "saving_interval": {
            s: {k: summary[s]["saving_interval"][k] for k in ("half", "full")} for s in rivals
        },
        "rounds_worse_than_baseline": worse,
        "coverage_random_300": {
            mass: round(float(np.mean([c[mass] for c in random_coverage])), 3)
            for mass in ("50", "80", "95")
        },
        "coverage_labelled": int(labelled[at_300]),
        "random_final_slope_per_100": round(
            float((random_mean[-1] - random_mean[-2]) / (labelled[-1] - labelled[-2]) * 100), 4
        ),
    }


def plot(summary: dict, labelled, floor: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for strategy, values in summary.items():
        mean, sem = np.array(values["nll_mean"]), values["nll_sem"]
        axes[0].plot(labelled, mean, marker="o", label=strategy)
        if sem is not None:
            axes[0].fill_between(
                labelled, mean - 1.96 * np.array(sem), mean + 1.96 * np.array(sem), alpha=0.15
            )
        axes[1].plot(labelled, values["rmse_mean"], marker="o", label=strategy)
    axes[0].plot(
        labelled,
        summary["random"]["baseline_nll_mean"],
        color="grey",
        linestyle=":",
        label="image-free baseline (random's labels)",
    )
    axes[0].axhline(floor, color="black", linestyle="--", label="vote-noise floor")
    axes[0].set_ylabel("test vote NLL, expected under true p (nats)")
    axes[1].set_ylabel("test RMSE of vote fractions vs true p")
    for axis in axes:
        axis.set_xlabel("labelled subjects")
        axis.legend(fontsize=8)
    figure.suptitle("Active learning vs random: mean over seeds, 95% band (±1.96 s.e.)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_seed(seed: int, arguments) -> dict[str, list[dict]]:
    """Every strategy's curve on one seed's data."""
    started = time.time()
    from mlworker import training

    data = make_data(seed, arguments)
    labelled = [int(i) for i in data["initial"]]
    fit = fit_round(data, labelled, seed, 0, arguments, None)
    first_point = {"labelled": len(labelled), **test_point(fit, data, arguments)}
    curves = {}
    for strategy in arguments.strategies:
        # Every strategy starts alike: its own copy of the first model, if that one is good.
        model = None if fit.worse_than_baseline else training.copy_model(fit.model)
        first = (model, first_point)
        curves[strategy] = curve = run_strategy(strategy, data, seed, arguments, first)
        print(
            f"seed {seed} {strategy:>12}: "
            + " ".join(f"{p['labelled']}:{p['nll']:.3f}/{p['baseline_nll']:.3f}" for p in curve)
            + f"  ({time.time() - started:.0f} s)",
            flush=True,
        )
    return curves


def _limit_threads(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_seeds(arguments) -> list[dict[str, list[dict]]]:
    """All seeds, `--jobs` at a time in separate processes (each with its share of the cores).

    Each finished seed is appended to `<output>.partial.json` at once, so a run cut short can
    still be summarised (`--from-partial`) from the seeds it finished.
    """
    partial = arguments.results_dir / f"{arguments.output}.partial.json"
    arguments.results_dir.mkdir(parents=True, exist_ok=True)
    finished: list[dict] = []
    started = time.time()

    def keep(seed_curves):
        finished.append(seed_curves)
        partial.write_text(
            json.dumps(
                {
                    "settings": _settings(arguments),
                    "seeds": finished,
                    "seconds": round(time.time() - started, 1),
                }
            )
        )

    if arguments.jobs <= 1:
        for seed in range(arguments.seeds):
            keep(run_seed(seed, arguments))
        return finished
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // arguments.jobs)
    context = multiprocessing.get_context("spawn")
    with context.Pool(arguments.jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
        jobs = [(seed, arguments) for seed in range(arguments.seeds)]
        for seed_curves in pool.imap_unordered(_run_seed_job, jobs):
            keep(seed_curves)
    return finished


def _run_seed_job(job):
    return run_seed(*job)


def _settings(arguments) -> dict:
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(arguments).items()
    }


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    seconds = None
    if arguments.from_partial:
        partial = json.loads(arguments.from_partial.read_text())
        by_seed, seconds = partial["seeds"], partial.get("seconds")
        arguments.seeds = len(by_seed)
    else:
        by_seed = run_seeds(arguments)
    curves = {s: [seed_curves[s] for seed_curves in by_seed] for s in arguments.strategies}
    floors = [curve[0]["floor"] for curve in curves["random"]]
    labelled = np.array([point["labelled"] for point in curves["random"][0]])
    summary = summarise(curves, labelled)
    floor = float(np.mean(floors))
    result = {
        "headline": headline(curves, summary, labelled),
        "labelled": labelled.tolist(),
        "vote_noise_floor_nll": floor,
        "summary": summary,
        "curves": curves,
        "settings": _settings(arguments),
        "training": vars(training_settings(arguments)),
        "seconds": seconds if arguments.from_partial else round(time.time() - started, 1),
        "command": results_file.command("active_learning.py", argv),
    }
    plot(
        summary,
        labelled,
        floor,
        results_file.write_result(result, arguments.results_dir, arguments.output),
    )
    print(f"noise floor {floor:.3f}; {result['seconds']} s")
    return result


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
