"""MC dropout scoring speed: trunk once + head T times, against one full pass and the naive loop.

Like for like: every path runs on the same images, in the same batches, through compiled
tf.function calls with the outputs brought back to NumPy — the measured path is
`mlworker.scoring.mc_samples` (what `score_pool` runs); the baselines call one compiled full
forward pass of the same model once (one pass) or T times (the naive loop). Each path is warmed up
(traced) first; then `--repeats` rounds run every path once each, in turn (each round starting
with the next path), so that load on the machine falls on all of them alike. Reported: the median images/s per path with its min and max,
and the speed-ups as the median (min-max) of the per-round ratios.
Writes benchmarks/results/mc_scoring.json and a plot.

    .venv/bin/python -m benchmarks.mc_scoring [--images 512] [--size 64] [--repeats 5]
"""

import argparse
import json
import os
import platform
import statistics
import time

from benchmarks import plots, runs

SAMPLES = (15, 30)
README_MARKER = (
    "speed"  # the speed table: this benchmark's row, round_time's, pool_scale's, serving's
)


def paths(model, images, batch_size: int) -> dict:
    """{name: function()} for every path, all on `images` in batches of `batch_size`."""
    import numpy as np
    import tensorflow as tf

    from mlworker import data, scoring

    full = tf.function(lambda x: model.full(x, training=False), reduce_retracing=True)
    keys = model.config.question_keys

    def full_passes(passes: int) -> dict:
        batch = data.as_image_batch(images)
        parts = {key: [] for key in keys}
        for start in range(0, len(batch), batch_size):
            chunk = tf.constant(batch[start : start + batch_size])
            outputs = [full(chunk) for _ in range(passes)]
            for key in keys:
                parts[key].append(np.stack([output[key].numpy() for output in outputs], axis=-1))
        return {key: np.concatenate(parts[key]) for key in keys}

    functions = {"one_full_pass": lambda: full_passes(1)}
    for samples in SAMPLES:
        functions[f"mc{samples}_trunk_once"] = lambda s=samples: scoring.mc_samples(
            model, images, samples=s, batch_size=batch_size
        )
        functions[f"mc{samples}_naive"] = lambda s=samples: full_passes(s)
    return functions


def measure(functions: dict, repeats: int) -> dict[str, list[float]]:
    """Seconds per path per round, after one warm-up call of each."""
    for function in functions.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for round_number in range(repeats):
        # Each round starts with the next path, so no path always follows the same neighbour.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            functions[name]()
            seconds[name].append(time.perf_counter() - started)
        print(
            f"round {round_number + 1}/{repeats}: "
            + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in seconds.items())
        )
    return seconds


def spread(values: list[float], digits: int) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def summarise(seconds: dict[str, list[float]], images: int) -> tuple[dict, dict]:
    rates = {name: [images / value for value in values] for name, values in seconds.items()}
    headline = {}
    for samples in SAMPLES:
        fast = seconds[f"mc{samples}_trunk_once"]
        for baseline, label in (("one_full_pass", "single_pass"), (f"mc{samples}_naive", "naive")):
            ratios = [b / f for f, b in zip(fast, seconds[baseline], strict=True)]
            headline[f"mc{samples}_vs_{label}"] = spread(ratios, 3)
    return headline, {name: spread(values, 1) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    arguments = parser.parse_args()

    from mlworker import questions as tree
    from mlworker import synthetic
    from mlworker.model import ModelConfig, build_model

    questions = tree.from_dicts(synthetic.GALAXY_QUESTIONS)
    model = build_model(ModelConfig(image_size=arguments.size, questions=questions))
    images = synthetic.make_galaxies(arguments.images, size=arguments.size, seed=0).images
    seconds = measure(paths(model, images, arguments.batch_size), arguments.repeats)
    headline, rates = summarise(seconds, len(images))
    result = {
        "headline": headline,
        "images_per_second": rates,
        "seconds_per_round": {
            name: [round(v, 3) for v in values] for name, values in seconds.items()
        },
        "settings": vars(arguments),
        "method": "same images and batches for every path; compiled tf.function calls; one "
        "warm-up call per path; paths interleaved within each round, the order rotated from "
        "round to round; ratios per round",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor(),
            "cores": os.cpu_count(),
        },
        "command": "make bench-mc-scoring",
    }
    plots.scoring_speeds(
        rates, runs.write_result(result, runs.RESULTS, "mc_scoring"), arguments.size
    )
    print(json.dumps(result["images_per_second"], indent=2))


def readme_section(
    result: dict, when: str, round_time, pool_scale, scoring_cost: tuple | None = None
) -> str:
    """The README's speed table (between its markers): this benchmark's row, then those of
    round_time, pool_scale and scoring_cost (each (result, date), their own `readme_row`) and
    serving's, each with the date of its run."""
    from benchmarks import pool_scale as pool_script
    from benchmarks import round_time as round_script
    from benchmarks import scoring_cost as cost_script
    from benchmarks import serving_summary

    rows = [
        (readme_row(result), when),
        (round_script.readme_row(round_time[0]), round_time[1]),
        (pool_script.readme_row(pool_scale[0]), pool_scale[1]),
    ]
    if scoring_cost:
        rows.append((cost_script.readme_row(scoring_cost[0]), scoring_cost[1]))
    return "\n".join(
        [
            "| benchmark | command | headline |",
            "|---|---|---|",
            *(row.replace("` | ", f"`, run of {date} | ", 1) for row, date in rows),
            serving_summary.SPEED_ROW,
        ]
    )


def readme_row(result: dict) -> str:
    """This benchmark's row of the speed table."""
    ratios, rates, settings = result["headline"], result["images_per_second"], result["settings"]

    def ratio(name: str) -> str:
        r = ratios[name]
        return f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f}x)"

    return (
        f"| MC dropout scoring, {settings['size']}x{settings['size']} grey, paper CNN "
        f"| `{result['command']}` | {settings['images']} images, every path a compiled call, "
        f"warm-up, {settings['repeats']} rounds with the order rotated (median and min-max of "
        "the per-round ratios): T = 30 with the trunk run once (`mlworker.scoring.mc_samples`) "
        f"**{ratio('mc30_vs_single_pass')}** the throughput of one full forward pass and "
        f"**{ratio('mc30_vs_naive')}** the naive loop of 30 full passes "
        f"({rates['mc30_trunk_once']['median']:.0f} vs {rates['one_full_pass']['median']:.0f} vs "
        f"{rates['mc30_naive']['median']:.1f} img/s median); T = 15: "
        f"{ratio('mc15_vs_single_pass')} and {ratio('mc15_vs_naive')} |"
    )


if __name__ == "__main__":
    main()
