"""How a seeded benchmark runs and what it writes: the run arguments every benchmark shares
(`add_run_arguments`), presets, seeds side by side in processes (each with its share of the cores,
optionally writing the finished seeds as they come, and resuming from them), result files and the
README's small formatters.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


# Arguments and seeds


def add_run_arguments(
    parser: argparse.ArgumentParser,
    output: str,
    *,
    seeds: int | None = None,
    jobs: int | None = 1,
    resume: bool = True,
) -> argparse.ArgumentParser:
    """The run arguments the seeded benchmarks share: --seeds (None: the preset's), --jobs (None:
    the benchmark runs its seeds one by one), --resume (when the benchmark keeps a partial file),
    --output (the result's name) and --results-dir."""
    parser.add_argument("--seeds", type=int, default=seeds)
    if jobs is not None:
        parser.add_argument(
            "--jobs", type=int, default=jobs, help="seeds side by side, one process each"
        )
    if resume:
        parser.add_argument(
            "--resume",
            action="store_true",
            help="keep the seeds <output>.partial.json holds (same settings) and run the rest",
        )
    parser.add_argument("--output", default=output, help="result name")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser


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


def command(module: str, argv) -> str:
    """The command line that made a result, for its `command` field."""
    return " ".join(["python -m", f"benchmarks.{module}", *(argv or sys.argv[1:])])


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
