"""How many labelled subjects should a first model wait for? (the default of
`Project.retrain_minimum_labelled_subjects`)

Before a first model, volunteers are spread over the pool (the cold start of issue 28), so a first
retrain finds many subjects with a few votes each, not a few with the retirement limit. Per seed
(`common.make_data`'s streams: synthetic galaxies, a 2,000 pool, a test set) and per number of
labelled subjects N, the first N subjects of the seed's random order get `--votes` simulated
votes each (the one vote simulator) and production's fit (`pipeline.fit_and_evaluate`, the default
two networks, from random weights) trains on them, as a first retrain would. Measured on the test
set, as every benchmark does (the expected vote NLL under the true p with the limit's volunteers):
the CNN against the image-free baseline fitted on the same votes; and what the product would do
with that version: the held-out gate's verdict and how many held-out subjects it had.

The chosen minimum is the smallest N at which no seed's first model is worse than the baseline on
the test set and the gate had at least MIN_HELD_OUT held-out subjects on average (fewer make its
verdict a coin toss).

    .venv/bin/python -m benchmarks.first_model_minimum --seeds 6 --jobs 2
"""

import argparse
import time

import numpy as np

from benchmarks import active_learning, common, plots, runs

README_MARKER = "first-model-minimum"
SIZES = (25, 50, 100, 200)
MIN_HELD_OUT = 10


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Labelled subjects a first model should wait for")
    runs.add_run_arguments(parser, "first_model_minimum", seeds=6, resume=False)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--votes", type=int, default=3, help="votes per labelled subject")
    own, rest = parser.parse_known_args(argv)
    arguments = active_learning.parse_arguments(["--preset", "standard", *rest])
    arguments.sizes = [int(size) for size in own.sizes.split(",")]
    arguments.initial = max(arguments.sizes)  # the seed's random order, long enough for every N
    for name in ("seeds", "votes", "jobs", "output", "results_dir"):
        setattr(arguments, name, getattr(own, name))
    return arguments


def run_seed(seed: int, arguments) -> dict:
    from mlworker import synthetic

    started = time.time()
    data = common.make_data(seed, arguments)  # the test set's votes: the limit's volunteers
    settings, changes = active_learning.training_settings(arguments)  # production's default
    order = [int(i) for i in data["initial"]]
    rng = np.random.default_rng([seed, arguments.votes])
    points = {}
    for size in arguments.sizes:
        labelled = order[:size]
        votes = synthetic.simulate_vote_counts(
            data["pool_p"][labelled], arguments.votes, rng, data["questions"]
        )
        fitted = common.fit(
            data["pool_images"][labelled],
            {q.key: votes[:, i] for i, q in enumerate(data["questions"])},
            labelled,
            data["questions"],
            settings,
            samples=arguments.samples,
            seed=seed * 100,
            rotation_invariant=arguments.rotation_invariant,
            config_changes=changes,
        )
        point = common.test_point(fitted, data, arguments)
        points[str(size)] = {
            "nll": point["nll"],
            "baseline_nll": point["baseline_nll"],
            "gate_worse": bool(fitted.worse_than_baseline),
            "held_out": fitted.metrics["_held_out"]["items"],
        }
        print(
            f"seed {seed} N={size}: CNN {point['nll']:.3f} baseline {point['baseline_nll']:.3f} "
            f"gate {'worse' if fitted.worse_than_baseline else 'ok'} "
            f"({fitted.metrics['_held_out']['items']} held out)",
            flush=True,
        )
    return {"seed": seed, "by_size": points, "seconds": round(time.time() - started, 1)}


def summarise(seeds: list[dict], sizes) -> dict:
    by_size = {}
    for size in map(str, sizes):
        points = [seed["by_size"][size] for seed in seeds]
        nll = np.array([p["nll"] for p in points])
        base = np.array([p["baseline_nll"] for p in points])
        by_size[size] = {
            "nll_mean": round(float(nll.mean()), 4),
            "baseline_nll_mean": round(float(base.mean()), 4),
            "seeds_worse_than_baseline": int(np.sum(nll > base)),
            "seeds_gate_worse": int(sum(p["gate_worse"] for p in points)),
            "held_out_mean": round(float(np.mean([p["held_out"] for p in points])), 1),
        }
    chosen = next(
        (
            int(size)
            for size, entry in by_size.items()
            if entry["seeds_worse_than_baseline"] == 0 and entry["held_out_mean"] >= MIN_HELD_OUT
        ),
        None,
    )
    return {"minimum_labelled_subjects": chosen, "seeds": len(seeds), "by_size": by_size}


def readme_section(result: dict, when: str) -> str:
    head, settings = result["headline"], result["settings"]
    lines = [
        "### How many labelled subjects a first model waits for (`make bench-first-model-minimum`)",
        "",
        f"{head['seeds']} seeds, run of {when} ({runs.duration(result)}, "
        "`benchmarks/results/first_model_minimum.json`): the first N subjects of each seed's "
        f"random order with {settings['votes']} votes each (volunteers spread out before a first "
        "model), production's first fit from random weights, judged on a test set of "
        f"{settings['test']:,}:",
        "",
        "| labelled subjects | CNN test NLL | baseline | seeds worse than the baseline | "
        "flagged by the held-out gate | held-out subjects |",
        "|---|---|---|---|---|---|",
    ]
    for size, entry in head["by_size"].items():
        lines.append(
            f"| {size} | {entry['nll_mean']:.3f} | {entry['baseline_nll_mean']:.3f} | "
            f"{entry['seeds_worse_than_baseline']} of {head['seeds']} | "
            f"{entry['seeds_gate_worse']} of {head['seeds']} | {entry['held_out_mean']:.0f} |"
        )
    chosen = head["minimum_labelled_subjects"]
    lines += [
        "",
        "![first model minimum](benchmarks/results/first_model_minimum.png)",
        "",
        (
            f"The smallest N at which no seed's first model is worse than the baseline and the "
            f"gate has at least {MIN_HELD_OUT} held-out subjects: **{chosen}**"
            if chosen is not None
            else "No N tried meets the rule (no seed worse than the baseline, at least "
            f"{MIN_HELD_OUT} held-out subjects)"
        )
        + ": the default of `retrain_minimum_labelled_subjects` (a test keeps them equal).",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    seeds = runs.run_seeds(run_seed, arguments, range(arguments.seeds), arguments.jobs)
    result = runs.record(
        summarise(seeds, arguments.sizes),
        arguments,
        argv,
        "first_model_minimum",
        started,
        seeds=seeds,
    )
    path = runs.write_result(result, arguments.results_dir, arguments.output)
    plots.first_model_minimum(result["headline"]["by_size"], path)
    return result


if __name__ == "__main__":
    main()
