"""What the benchmarks share, so that each script holds only its own experiment.

- Data and test sets: `questions_for`, `truth`, `true_reach`, `test_set`, `make_data` (a seed's
  pool, test set and first labels, from independent streams).
- Fit and score through `mlworker.pipeline` as production does: `production_settings`, `fit`
  (model_config + fit_and_evaluate, warm-started from a saved version's folder as a round is),
  `save_version` (registry.save_model_version, as a round saves), `fit_round` and `pick` (a
  round's fit and its picks with the version that steers, loaded from its folder), `test_point`.
- Crossings and savings: `first_crossing`, `saving`, `share_saved`, `paired_interval`.
- Arguments and seeds: `with_preset`, `run_seeds` (side by side in processes, each with its
  share of the cores, optionally writing the finished seeds as they come).
- Result files and the README: `write_result`, `command`, `arguments_record`, `percent`,
  `interval`, `duration`.

TensorFlow is imported inside the functions that need it: the web benchmarks import this module too.
"""

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# TensorFlow logs warnings only, in every benchmark (set before any of them imports it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Data and test sets


def questions_for(p_columns: int, dataset: bool):
    """The galaxy tree (synthetic.GALAXY_QUESTIONS) or independent yes/no questions (a dataset)."""
    from mlworker import questions, synthetic

    if dataset:
        return questions.independent(p_columns)
    return questions.from_dicts(synthetic.GALAXY_QUESTIONS)


def truth(p: np.ndarray, questions) -> dict:
    """The true answer probabilities per question, {key: [items, 2]}, from p [items, questions]."""
    return {q.key: np.stack([p[:, i], 1 - p[:, i]], axis=-1) for i, q in enumerate(questions)}


def true_reach(p: np.ndarray, questions) -> np.ndarray:
    """[items, questions]: the share of volunteers the true p sends to each question."""
    from mlworker.acquisition import reach_share

    share = reach_share(truth(p, questions), questions)
    return np.stack([share[q.key] for q in questions], axis=-1)


def test_set(images: np.ndarray, p: np.ndarray, counts: dict, questions) -> dict:
    """A test set: images, the true answer probabilities (`truth`) and the votes
    ({key: [items, answers]}); p is [items, questions]."""
    return {
        "questions": questions,
        "test_images": images,
        "test_truth": truth(p, questions),
        "test_counts": counts,
    }


def make_data(seed: int, arguments) -> dict:
    """A seed's pool, test set and initial labelled set, from independent streams: synthetic
    galaxies, or the items of `arguments.dataset` (.npz) in a random order."""
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
    test_counts = {q.key: counts[test, i] for i, q in enumerate(questions)}
    return {
        **test_set(images[test], p[test], test_counts, questions),
        "pool_images": images[pool],
        "pool_p": p[pool],
        "pool_counts": counts[pool],
        "initial": choices.choice(arguments.pool, arguments.initial, replace=False),
    }


# Fit and score, as production does


# Where a benchmark's model starts, as issue 25 compares them: `scratch` is the model before that
# issue (one network, the better of two initialisations on the validation NLL, scored on the image
# as it is), `default` production's current default (TrainingSettings and pipeline.model_config).
STARTS = {
    "scratch": ({"members": 1, "fresh_restarts": 2}, {"test_time_symmetries": 1}),
    "default": ({}, {}),
}


def start_options(start: str, settings) -> tuple:
    """(training settings, config changes) of a start in STARTS."""
    if start not in STARTS:
        raise ValueError(f"Invalid start: expected one of {sorted(STARTS)}, received {start!r}")
    setting_changes, config_changes = STARTS[start]
    return replace(settings, **setting_changes), dict(config_changes)


def production_settings(**overrides):
    """Production's TrainingSettings with the fields given replaced (None: production's value)."""
    from mlworker.training import TrainingSettings

    return replace(TrainingSettings(), **{k: v for k, v in overrides.items() if v is not None})


def fit(images, counts, keys, questions, settings, *, samples, seed, **options):
    """Production's fit + held-out judgement (`pipeline.fit_and_evaluate`) on the network a project
    of these images trains. options: rotation_invariant, trunk_source, config_changes (fields of
    the network to change, for a screen of sizes) and warm_start — a saved version's folder
    (`save_version`), which the fit loads as a round loads its predecessor."""
    from mlworker import pipeline

    config = pipeline.model_config(
        questions,
        image_size=images.shape[1],
        channels=1 if images.ndim == 3 else images.shape[-1],
        trunk_source=options.pop("trunk_source", None),
        rotation_invariant=options.get("rotation_invariant", False),
    ).replace(**options.pop("config_changes", {}))
    return pipeline.fit_and_evaluate(
        images, counts, keys, config, settings=settings, samples=samples, seed=seed, **options
    )


def save_version(fitted, folder: Path) -> Path:
    """Save a fit as a round saves its version; the folder is what later fits warm-start from."""
    from mlworker import registry

    return registry.save_model_version(folder, fitted.model, fitted.config, fitted.metrics)


def fit_round(
    data: dict, labelled: list[int], seed: int, arguments, settings, start=None, config_changes=None
):
    """A round's fit on `make_data`'s pool: production's fit + held-out judgement on the labelled
    subjects, warm-started as a round is, from the folder of the version that steers (`start`;
    None: random weights). seed: the round's; arguments: samples, rotation_invariant;
    config_changes: fields of the network to change (`start_options`)."""
    counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(data["questions"])}
    return fit(
        data["pool_images"][labelled],
        counts,
        labelled,
        data["questions"],
        settings,
        samples=arguments.samples,
        seed=seed,
        rotation_invariant=arguments.rotation_invariant,
        warm_start=start,
        config_changes=config_changes or {},
    )


def pick(strategy: str, start, data: dict, labelled: list[int], arguments, rng) -> np.ndarray:
    """The `arguments.batch` pool subjects volunteers are asked about next: production's score +
    select with the version that steers (loaded from its folder `start`, as score_pool loads it),
    or random (the queue's order before any good version) when there is none."""
    from mlworker import pipeline, registry, scoring

    images = data["pool_images"]
    pool = np.setdiff1d(np.arange(len(images)), labelled)
    if start is None:
        return pool[rng.permutation(len(pool))[: arguments.batch]]
    model, _, _ = registry.load_model_version(start)
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


def test_point(fitted, data: dict, arguments, probabilities: dict | None = None) -> dict:
    """A fitted model on a test set (`test_set`): the expected vote NLL under the true p, the
    image-free baseline's, the vote-noise floor, RMSE of the vote fractions, interval coverage.
    `probabilities` ({question: [items, answers, samples]}): other samples of the test images to
    judge instead of the model's own (an ensemble, a calibration)."""
    from mlworker import baseline, metrics, outcomes, scoring

    questions, truth = data["questions"], data["test_truth"]
    if probabilities is None:
        probabilities = scoring.mc_samples(fitted.model, data["test_images"], arguments.samples)
    expected, floor = outcomes.expected_log_likelihood(
        probabilities, truth, questions, arguments.volunteers
    )
    base = baseline.expected_log_likelihood(fitted.alphas, truth, questions, arguments.volunteers)
    errors = [probabilities[q.key][:, 0, :].mean(axis=-1) - truth[q.key][:, 0] for q in questions]
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
        "held_out_flagged_worse": bool(fitted.worse_than_baseline),
        "epochs": fitted.training.epochs_run,
        "train_seconds": round(fitted.training.seconds, 2),
    }


# Crossings and savings


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


# Arguments and seeds


def with_preset(arguments, presets: dict):
    """The arguments with every one left unset (None) taken from the chosen `--preset`."""
    for key, value in presets[arguments.preset].items():
        if getattr(arguments, key) is None:
            setattr(arguments, key, value)
    return arguments


def limit_threads(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_seeds(
    run_seed, arguments, seeds, jobs: int = 1, partial: Path | None = None, finished=None,
    earlier_seconds: float = 0.0,
) -> list:  # fmt: skip
    """[run_seed(seed, arguments) for seed in seeds], `jobs` at a time in separate processes, each
    with its share of the cores. With `partial`, the seeds finished so far are written there (with
    the arguments and the seconds) as each one finishes; `finished` ({seed: result}, from an
    earlier partial run) are kept and not run again."""
    seeds, finished, started = list(seeds), dict(finished or {}), time.time()
    earlier = {seed: finished[seed] for seed in seeds if seed in finished}

    def keep(seed, result):
        finished[seed] = result
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            record = {
                # a partial run's only figures: how far it got (the result file has the rest)
                "headline": {"seeds_finished": len(finished), "seeds_planned": len(seeds)},
                "settings": arguments_record(arguments),
                "seeds": list(finished.values()),
                "seed_numbers": list(finished),
                "seconds": round(earlier_seconds + time.time() - started, 1),
            }
            partial.write_text(json.dumps(record))

    to_run = [seed for seed in seeds if seed not in earlier]
    if jobs <= 1:
        for seed in to_run:
            keep(seed, run_seed(seed, arguments))
        return [finished[seed] for seed in seeds]
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs, initializer=limit_threads, initargs=(threads,)) as pool:
        work = [(run_seed, seed, arguments) for seed in to_run]
        for seed, result in pool.imap_unordered(_seed_job, work):
            keep(seed, result)
    return [finished[seed] for seed in seeds]


def run_seeds_resumable(run_seed, arguments, seeds) -> tuple[list, float]:
    """`run_seeds` with each finished seed kept in <results_dir>/<output>.partial.json, so that a
    run cut short can go on where it stopped: with `arguments.resume`, the seeds that file holds
    (run with the same settings) are kept and only the others run. Returns (results in seed
    order, seconds of every part of the run)."""
    partial = arguments.results_dir / f"{arguments.output}.partial.json"
    finished, earlier_seconds = {}, 0.0
    if arguments.resume and partial.exists():
        saved = json.loads(partial.read_text())
        mismatched = same_run_mismatches(saved["settings"], arguments_record(arguments))
        if mismatched:
            raise SystemExit(f"--resume: {partial} was run with other settings: {mismatched}")
        finished = dict(zip(saved["seed_numbers"], saved["seeds"], strict=True))
        earlier_seconds = saved.get("seconds", 0.0)
        print(f"resuming: seeds {sorted(finished)} from {partial}", flush=True)
    started = time.time()
    results = run_seeds(
        run_seed, arguments, seeds, arguments.jobs, partial, finished, earlier_seconds
    )
    return results, round(earlier_seconds + time.time() - started, 1)


def same_run_mismatches(saved: dict, current: dict) -> dict:
    """The settings (other than how it runs) in which a partial run differs from this one."""
    free = ("jobs", "resume", "seeds", "from_partial")
    return {
        key: (saved.get(key), value)
        for key, value in current.items()
        if key not in free and saved.get(key) != value
    }


def _seed_job(job):
    run_seed, seed, arguments = job
    return seed, run_seed(seed, arguments)


# Result files and the README


def command(script: str, argv) -> str:
    """The command line that made a result, for its `command` field."""
    return " ".join([f"benchmarks/{script}", *(argv or sys.argv[1:])])


def arguments_record(arguments) -> dict:
    """A run's arguments as JSON can hold them (paths as text)."""
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in vars(arguments).items()
    }


def record(headline: dict, arguments, argv, script: str, started: float, **parts) -> dict:
    """A result: its `headline`, the parts the benchmark keeps, and how it was made (arguments,
    seconds since `started`, the command line)."""
    return {
        "headline": headline,
        **parts,
        "settings": parts.pop("settings", None) or arguments_record(arguments),
        "seconds": round(time.time() - started, 1),
        "command": command(script, argv),
    }


def write_result(result: dict, results_dir: Path, output: str) -> Path:
    """Write the result (with its top-level `headline`) to <results_dir>/<output>.json, print the
    headline; return the path the plot goes to (.png beside it)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{output}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["headline"], indent=2))
    return results_dir / f"{output}.png"


def percent(value) -> str:
    return f"{value:.0%}" if value is not None else "—"


def interval(pair) -> str:
    low, high = pair
    return f"{low:.0%} to {high:.0%}" if low == low else "—"  # NaN: too few seeds


def duration(result: dict) -> str:
    if result.get("seconds") is None:
        return "its duration not recorded"
    return f"{result['seconds'] / 60:.0f} minutes on this 2-core machine"
