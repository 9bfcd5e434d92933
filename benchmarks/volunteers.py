"""Careless and hostile volunteers: are they found, and does weighting their votes undo the harm?

Per seed, from independent random streams: synthetic galaxies (a labelled pool and a test set), a
crowd of sessions with a realistic spread of activity (Pareto weights: a few sessions cast most
of the votes), and each pool subject's `votes` classifications by distinct sessions drawn in
proportion to activity. Every classification follows the galaxy tree from pre-drawn uniforms, so
an honest session casts the very same votes in every crowd below:

- **clean**: every session honest;
- **bad**: `careless` of the sessions careless (half press the first answer always, half answer at
  random) and `hostile` of them hostile (the opposite of the truth: answer 1 with probability 1 - p),
  hostile people using 5 sessions from one address each; two classrooms of honest sessions share
  an address too (5 each), so a shared address alone is no evidence.

Each crowd is collected twice. Unweighted: every subject retires at `votes` classifications, all
counted alike. Weighted, as production collects: `mlworker.reliability.estimate` (the worker's own
function, on the votes alone: no model prior) weighs every session after each pass (a round), and a
subject retires only on `votes` classifications from sessions not flagged, so the subjects short of
that get more, from sessions drawn by activity (up to TOP_UP_PASSES passes); the counts are the
weighted sums. Both go into production's fit
(`pipeline.fit_and_evaluate`, the default two networks) and into the catalogue (vote fractions).
Measured, same seeds, like with like: the CNN's test vote NLL (expected under the true p), the
catalogue's RMSE against the true p (each question weighted by the share of volunteers the true
p sends to it), the share of bad sessions flagged (recall, at >= 50 classifications and overall),
and honest sessions flagged by mistake.

The crowd and its collection are in volunteers_crowd.py, the figures and the README section in
volunteers_summary.py.

    .venv/bin/python -m benchmarks.volunteers                   # the README's figures
    .venv/bin/python -m benchmarks.volunteers --preset small    # a few minutes
"""

import argparse
import time

import numpy as np

from benchmarks import common, runs
from benchmarks.volunteers_crowd import (
    catalogue_rmse,
    collect_weighted,
    crowd_kit_flags,
    draw,
    flags,
    make_crowd,
    simulate_votes,
    top_share,
)
from benchmarks.volunteers_summary import headline, summarise
from mlworker import reliability

PRESETS = {
    "standard": dict(pool=1000, test=1000, votes=15, crowd=400, seeds=5, image_size=32, samples=48),
    "small": dict(pool=150, test=150, votes=10, crowd=60, seeds=2, image_size=24, samples=10),
}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Careless and hostile volunteers, weighted or not")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="standard")
    for name in ("pool", "test", "votes", "crowd", "image-size", "samples", "epochs"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--members", type=int, help="networks per version (production's: unset)")
    parser.add_argument("--careless", type=float, default=0.15, help="share of sessions")
    parser.add_argument("--hostile", type=float, default=0.05, help="share of sessions")
    parser.add_argument(
        "--crowd-kit",
        action="store_true",
        help="also flag the bad crowd's sessions with crowd-kit's aggregators on the first "
        "question (pip install -e '.[compare]')",
    )
    runs.add_run_arguments(parser, "volunteers")
    arguments = runs.with_preset(parser.parse_args(argv), PRESETS)
    arguments.volunteers = arguments.votes  # test_point's N: the votes a subject gets
    return arguments


def run_seed(seed: int, arguments) -> dict:
    from mlworker import synthetic

    started = time.time()
    streams = synthetic.streams(seed)
    rng = np.random.default_rng(streams["votes"])
    total = arguments.pool + arguments.test
    galaxies = synthetic.make_galaxies(total, size=arguments.image_size, seed=streams["galaxies"])
    questions = common.questions_for(galaxies.p.shape[1], dataset=False)
    pool, test = slice(0, arguments.pool), slice(arguments.pool, total)
    p = galaxies.p[pool]
    test_counts = synthetic.simulate_vote_counts(galaxies.p[test], arguments.votes, rng, questions)
    data = common.test_set(
        galaxies.images[test],
        galaxies.p[test],
        {q.key: test_counts[:, i] for i, q in enumerate(questions)},
        questions,
    )
    crowd = make_crowd(arguments, rng)
    chance = crowd["activity"] / crowd["activity"].sum()
    first = draw(
        np.arange(len(p)), np.full(len(p), arguments.votes), chance, {}, rng, len(questions)
    )
    reach = common.true_reach(p, questions)
    crowds = {"clean": np.array(["honest"] * arguments.crowd), "bad": crowd["kinds"]}
    outcome, found = {}, {}
    for name, kinds in crowds.items():
        top_up = np.random.default_rng([seed, 1])  # the same extra draws for both crowds
        for weighting in ("unweighted", "weighted"):
            if weighting == "unweighted":
                classifications = first
                votes, weight = simulate_votes(p, first, kinds, questions), None
            else:
                classifications, votes, estimate, passes = collect_weighted(
                    p, first, kinds, questions, crowd, arguments, top_up
                )
                weight = estimate.weight
                per_session = np.bincount(classifications["session"], minlength=len(kinds))
                found[name] = {**flags(estimate, kinds, per_session), "passes": passes}
            counts = reliability.weighted_counts(votes, weight)
            fitted = common.fit(
                galaxies.images[pool],
                {q.key: counts[i] for i, q in enumerate(questions)},
                list(range(len(p))),
                questions,
                common.production_settings(epochs=arguments.epochs, members=arguments.members),
                samples=arguments.samples,
                seed=seed,
                rotation_invariant=True,
            )
            point = common.test_point(fitted, data, arguments)
            outcome[f"{name}_{weighting}"] = {
                "nll": point["nll"],
                "baseline_nll": point["baseline_nll"],
                "rmse": catalogue_rmse(counts, p, reach),
                "classifications": int(len(classifications["subject"])),
            }
    result = {
        "seed": seed,
        "conditions": outcome,
        "flags": found,
        "sessions": {
            kind: int(np.sum(crowd["kinds"] == kind)) for kind in np.unique(crowd["kinds"])
        },
        "classifications_by_top_tenth": top_share(first["session"], arguments.crowd),
        "crowd_kit": crowd_kit_flags(p, first, crowd["kinds"], questions)
        if arguments.crowd_kit
        else None,
        "seconds": round(time.time() - started, 1),
    }
    print(
        f"seed {seed}: "
        + "; ".join(f"{k} NLL {v['nll']:.3f} RMSE {v['rmse']:.4f}" for k, v in outcome.items())
        + f"; bad found {found['bad']['recall_many']}, honest flagged {found['bad']['honest_flagged']}",
        flush=True,
    )
    return result


def main(argv=None) -> dict:
    from benchmarks import plots

    arguments = parse_arguments(argv)
    started = time.time()
    seeds, seconds = runs.run_seeds_resumable(run_seed, arguments, range(arguments.seeds))
    summary = summarise(seeds)
    result = runs.record(
        headline(summary), arguments, argv, "volunteers", started, summary=summary, seeds=seeds
    )
    result["seconds"] = seconds  # every part of a resumed run
    plots.volunteers(summary, runs.write_result(result, arguments.results_dir, arguments.output))
    return result


if __name__ == "__main__":
    main()
