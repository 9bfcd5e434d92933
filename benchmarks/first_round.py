"""Is a first model, trained on the first 100 labels, better than ignoring the image?

Round 0 of the active-learning benchmark (`active_learning.py`: the same data, streams and
production functions — `mlworker.pipeline.fit_and_evaluate` from random weights), over many seeds:
each seed's CNN against the image-free baseline fitted on the same training labels, on a test set
scored as the expected vote NLL under the true p. Cheaper than the whole benchmark, so the
first-round training settings can be checked on more seeds.

    .venv/bin/python -m benchmarks.first_round --seeds 10 --jobs 2
"""

import argparse
import time

import numpy as np

from benchmarks import (  # active_learning: the benchmark this is the first round of
    active_learning,
    common,
    plots,
    runs,
)

README_MARKER = "first-round"


def run_seed(seed: int, arguments) -> dict:
    started = time.time()
    data = common.make_data(seed, arguments)
    labelled = [int(i) for i in data["initial"]]
    settings, changes = active_learning.training_settings(arguments)  # production's default
    fitted = common.fit_round(
        data, labelled, seed * 100, arguments, settings, None, changes
    )  # round 0's seed
    point = common.test_point(fitted, data, arguments)
    point.update(
        seed=seed,
        restarts_validation_nll=fitted.metrics["_restarts"]["validation_nll"],
        networks_trained=len(fitted.restarts),
        seconds=round(time.time() - started, 1),
    )
    print(f"seed {seed}: CNN {point['nll']:.3f} baseline {point['baseline_nll']:.3f}", flush=True)
    return point


def summarise(points: list[dict]) -> dict:
    nll = np.array([p["nll"] for p in points])
    base = np.array([p["baseline_nll"] for p in points])
    return {
        "seeds": len(points),
        "seeds_worse_than_baseline": int(np.sum(nll > base)),
        "nll_mean": round(float(nll.mean()), 4),
        "baseline_nll_mean": round(float(base.mean()), 4),
        "largest_margin_over_baseline": round(float(np.max(nll - base)), 4),
        "coverage_mean": {
            mass: round(float(np.mean([p["coverage"][mass] for p in points])), 3)
            for mass in ("50", "80", "95")
        },
    }


def round_zero_line(active: dict, when: str) -> str:
    """Round 0 of the active-learning run: the same data, seeds and production fit as
    first_round.py, so the newer of the two runs says how first models fare today."""
    first = [curve[0] for curve in active["curves"]["random"]]
    model = np.array([point["nll"] for point in first])
    base = np.array([point["baseline_nll"] for point in first])
    return (
        f"Round 0 of the active-learning run of {when} (the same data, seeds and production fit): "
        f"the CNN averages **{model.mean():.3f}** against the baseline's {base.mean():.3f}; seeds "
        f"where the CNN is worse: **{int(np.sum(model > base))} of {len(first)}** (largest "
        f"CNN-minus-baseline difference {np.max(model - base):+.3f})."
    )


def readme_section(result: dict, when: str, active_learning=None) -> str:
    """The README's first-round section (between its markers), every figure from the result;
    with `active_learning` (its result and date), the same figures of that run's round 0."""
    round_zero = round_zero_line(*active_learning) if active_learning else None
    headline, settings = result["headline"], result["settings"]
    coverage = headline["coverage_mean"]
    lines = [
        "### The first model against the image-free baseline (`make bench-first-round`)",
        "",
        f"Round 0 of the benchmark above ({settings['initial']} random labels, "
        f"{settings['image_size']} px, a test set of {settings['test']:,}, production's "
        "`fit_and_evaluate` from random weights) over "
        f"{headline['seeds']} seeds, run of {when} ({runs.duration(result)}, "
        "`benchmarks/results/first_round.json`): the CNN's test vote NLL averages "
        f"**{headline['nll_mean']:.3f}** against the baseline's {headline['baseline_nll_mean']:.3f}; "
        f"seeds where the CNN is worse: **{headline['seeds_worse_than_baseline']} of "
        f"{headline['seeds']}** (largest CNN-minus-baseline difference "
        f"{headline['largest_margin_over_baseline']:+.3f}); its 50/80/95% vote intervals cover "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
        "",
        *([round_zero, ""] if round_zero else []),
        "![first round](benchmarks/results/first_round.png)",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="First-round CNN against the image-free baseline")
    runs.add_run_arguments(parser, "first_round", seeds=10, resume=False)
    parser.add_argument(
        "--only-seeds", help="comma-separated seeds to run instead of 0..seeds-1 (probes)"
    )
    own, rest = parser.parse_known_args(argv)
    arguments = active_learning.parse_arguments(["--preset", "standard", *rest])
    started = time.time()
    seeds = (
        [int(seed) for seed in own.only_seeds.split(",")] if own.only_seeds else range(own.seeds)
    )
    points = runs.run_seeds(run_seed, arguments, seeds, own.jobs)
    result = runs.record(
        summarise(points),
        arguments,
        argv,
        "first_round",
        started,
        points=points,
        settings={**runs.arguments_record(arguments), "seeds": len(points)},
        training=vars(active_learning.training_settings(arguments)[0]),
    )
    plots.first_rounds(points, runs.write_result(result, own.results_dir, own.output))
    return result


if __name__ == "__main__":
    main()
