"""A survey run start to finish: votes spent for a catalogue of every image, Starling's whole loop
against Galaxy Zoo's classic one (issue 39).

Per seed, from independent random streams: a project's N images with their true answer
probabilities (synthetic galaxies, or any .npz with `--dataset`), and a crowd of simulated
volunteers (survey_crowd.py: honest, careless and hostile sessions, a few casting most votes). Every
arm is a project of its own in a throwaway database, run with production's own functions
(survey_arms.py, survey_project.py) on the same images, truths and volunteers:

- **classic**: random order, retirement at a fixed count (15), no model; a subject without votes
  has the image-free estimate;
- **classic_then_model**: classic's votes; at a few checkpoints a model fitted on the votes so far
  predicts every subject without votes (Galaxy Zoo DECaLS' way);
- **default**: a project as it is created (Project's field defaults, production's settings);
- Starling with one lever off: **no_picks** (acquisition strategy random), **no_model_retirement**
  (fixed count 15), **no_weighting** (every vote weight 1); and **model_retirement** (model-aware
  retirement on: it is off in Project's defaults, so turning it off changes nothing and
  no_model_retirement is the default project, not run twice).

Point 4's candidates, run only when `--arms` names them (survey_arms.SCREEN; survey_screen.py
gives their figures beside the defaults of the same run, under the result's `screen`), each a
product switch with Project's default unchanged: **random_checks** (random_request_share 0.5,
Galaxy Zoo Enhanced's split: half the requests random checks spread over the pool, the rest the
ranked queue, whose round picks get the full count), **first_at_minimum** /
**first_at_minimum_100** (retrain_first_at_minimum: the first model once 200 / 100 images have
votes, not after the cadence's votes), **cadence_x2** (a round every half the run's votes) and
**combined** (model-aware retirement, random checks, the first model at 100); model_retirement is
the fifth. The `screen` preset (400 images, 2 seeds) is their screen:

    nice -n 19 .venv/bin/python -m benchmarks.survey --preset screen --jobs 2 --resume \
        --arms classic,classic_then_model,default,no_model_retirement,model_retirement,\
random_checks,first_at_minimum_100,cadence_x2,combined

Each arm runs until classic's budget (15 votes x N) is spent or every subject is retired. The
catalogue is production's export at checkpoints; its estimate (survey_project.best_estimate) is
scored against the true p: RMSE over every image, each question weighted by the share of
volunteers the truth sends to it. Measured (survey_summary.py): per seed the votes each arm spends
until its RMSE is at most 1.02 x classic's final RMSE, as a share of classic's votes saved (paired
BCa intervals over seeds); each arm's RMSE at a quarter of classic's votes; each lever's share.

What is production's and what is not: every step above is the product's own function, with
Project's defaults and production's settings, except what the run's budget sets (below) and
- no Redis and SQLite: the queue answers from SQL (as the product does without Redis) and a vote is
  the ORM path of `classification_submit` (the embedded default's; PostgreSQL's one statement does
  the same steps);
- volunteers wait while a round trains (in production they go on voting): a round's picks are
  never stale;
- the weighting lever has no switch in the product: no_weighting stands `unit_weights` in for
  mlworker.reliability.estimate (weight 1, nobody flagged) in that arm alone;
- "picks off" is the product's own strategy "random": a round's batch is random, but the rest of
  the queue is still ordered by the model's score (round_record gives every other subject its
  score as priority), so the model still steers once a random batch is used up.

The run's budget (`make bench-survey` <= 3 h on this 2-core machine, both image kinds, 5 seeds):
a round (two networks, the 8 symmetries, T = 50) is most of a looping arm's cost and does not
shrink with the pool below 640 training subjects (20 steps an epoch at least), so the knobs are
the number of rounds, their epochs and the image side. Measured here (a loaded machine, 60% of the
CPU): one seed of 600 synthetic galaxies at 16 px, 10 epochs a round, a round every 1,286 votes
(6 versions an arm): 988 CPU seconds (27 minutes), of them about 23 s a round, 35 s a
classic_then_model fit, 10-20 ms a vote (Django's ORM), 1 s an export. The standard preset takes
8 rounds (a round every 1,000 votes: ~1,180 CPU s a seed); with `--jobs 2` a dataset's 5 seeds run
as 3 batches of ~1,200 s, both datasets ~2 h, leaving a third for a busier machine. The product's
cadence (a round every 200 new votes) would be 45 rounds an arm here (~8 h a seed); the first
model waits for the cadence's votes as well as for the product's minimum of 200 labelled subjects
(Project.retrain_minimum_labelled_subjects, kept), so it arrives at 1,000 votes, not ~220. The
tiny preset (tests) runs every arm on 24 images in about 45 s.

    .venv/bin/python -m benchmarks.survey --preset standard --jobs 2 --resume    # make bench-survey
    .venv/bin/python -m benchmarks.survey --preset small --seeds 1               # minutes
"""

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from benchmarks import common, runs, survey_arms, survey_crowd, survey_project, survey_summary

# The budget's arithmetic is in the module docstring.
PRESETS = {
    "standard": dict(pool=600, image_size=16, crowd=300, seeds=5, epochs=10, rounds=8, points=24),
    "small": dict(pool=200, image_size=16, crowd=120, seeds=2, epochs=6, rounds=4, points=12),
    # Point 4's screen of candidates: the product's minimum of 200 labelled subjects half the pool
    # (small's pool is all of it), 2 seeds, fewer rounds and epochs than standard.
    "screen": dict(pool=400, image_size=16, crowd=200, seeds=2, epochs=6, rounds=4, points=16),
    "tiny": dict(
        pool=24,
        image_size=16,
        crowd=24,
        seeds=1,
        epochs=1,
        rounds=1,
        points=4,
        retrain_after_new_votes=240,
        members=1,
        fresh_restarts=1,
        ctm_checkpoints="0.5",
    ),  # fmt: skip
}
ISSUE_ARMS = ["classic", survey_arms.CLASSIC_THEN_MODEL, *(
    arm for arm in list(survey_arms.ARMS)[1:] if arm not in survey_arms.SCREEN
)]  # fmt: skip
ALL_ARMS = [*ISSUE_ARMS, *survey_arms.SCREEN]


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="A survey start to finish: Starling vs classic")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="standard")
    for name in ("pool", "image-size", "crowd", "epochs", "members", "fresh-restarts", "rounds",
                 "points"):  # fmt: skip
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--dataset", type=Path, help=".npz: images (n, h, w[, c]), p (n, q)")
    parser.add_argument(
        "--retrain-after-new-votes",
        type=int,
        help="the looping arms' cadence (Project.retrain_after_new_votes); default: classic's "
        "budget / (--rounds + 1)",
    )
    parser.add_argument("--votes-per-tick", type=int, default=10, help="votes between beat ticks")
    parser.add_argument("--ctm-checkpoints", help="classic_then_model's fits, shares of the budget")
    parser.add_argument("--careless", type=float, default=0.15, help="share of sessions")
    parser.add_argument("--hostile", type=float, default=0.05, help="share of sessions")
    parser.add_argument(
        "--arms",
        default=",".join(ISSUE_ARMS),
        help=f"the issue's arms by default; the candidates of point 4: {list(survey_arms.SCREEN)}",
    )
    parser.add_argument("--keep-catalogues", type=Path, help="write each arm's last export here")
    parser.add_argument("--work-dir", type=Path, default=runs.ROOT / "var" / "survey-work")
    runs.add_run_arguments(parser, "survey")
    arguments = parser.parse_args(argv)
    preset = PRESETS[arguments.preset]
    arguments.ctm_checkpoints = arguments.ctm_checkpoints or preset.get(
        "ctm_checkpoints", "0.125,0.25,0.5,0.75"
    )
    optional = ("members", "fresh_restarts", "retrain_after_new_votes")
    for name in optional:  # production's unless the preset or the command line says
        setattr(arguments, name, getattr(arguments, name) or preset.get(name))
    arguments = runs.with_preset(arguments, {arguments.preset: {
        k: v for k, v in preset.items() if k not in (*optional, "ctm_checkpoints")
    }})  # fmt: skip
    arguments.arms = [arm.strip() for arm in arguments.arms.split(",") if arm.strip()]
    unknown = set(arguments.arms) - set(ALL_ARMS)
    if unknown or "classic" not in arguments.arms:
        parser.error(f"--arms: expected classic and any of {ALL_ARMS}, received {arguments.arms}")
    arguments.arms = [arm for arm in ALL_ARMS if arm in arguments.arms]
    arguments.ctm_checkpoints = [float(x) for x in arguments.ctm_checkpoints.split(",")]
    if not all(0 < share < 1 for share in arguments.ctm_checkpoints):
        parser.error("--ctm-checkpoints: expected shares of the budget between 0 and 1")
    budget = 15 * arguments.pool
    arguments.retrain_after_new_votes = arguments.retrain_after_new_votes or -(
        -budget // (arguments.rounds + 1)
    )
    arguments.dataset_name = arguments.dataset.stem if arguments.dataset else "galaxies"
    # common.make_data's pool of N items, no test set (the catalogue is every image).
    arguments.test, arguments.initial, arguments.volunteers = 0, 0, 15
    return arguments


def seed_data(seed: int, arguments) -> survey_arms.Seed:
    """The seed's images (as PNG files an owner imports), truths, crowd and its volunteers."""
    from labelling.volunteer import accounts
    from mlworker import synthetic

    data = common.make_data(seed, arguments)
    images, p, questions = data["pool_images"], data["pool_p"], data["questions"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 5]))
    crowd = survey_crowd.make(arguments, p, questions, rng)
    shared = survey_arms.Seed(
        seed=seed,
        arguments=arguments,
        questions=questions,
        p=p,
        reach=common.true_reach(p, questions),
        pngs=[synthetic.image_to_png_bytes(image) for image in images],
        channels=1 if images.ndim == 3 else int(images.shape[-1]),
        crowd=crowd,
    )
    shared.volunteers = [
        accounts.volunteer_create_anonymous(address=address)
        for address in survey_crowd.addresses(crowd, seed)
    ]
    return shared


def checkpoints(arguments) -> tuple[list[int], list[int]]:
    """(every checkpoint, classic_then_model's), in votes spent."""
    budget = 15 * arguments.pool
    model = [int(round(share * budget)) for share in arguments.ctm_checkpoints]
    every = np.round(np.linspace(0, budget, arguments.points + 1)).astype(int).tolist()
    return sorted(set(every) | set(model)), model


def run_seed(seed: int, arguments) -> dict:
    """Every arm on one seed."""
    import os

    started = time.time()
    survey_project.ready(
        arguments.work_dir / f"process-{os.getpid()}",
        {name: getattr(arguments, name) for name in ("epochs", "members", "fresh_restarts")},
    )
    shared = seed_data(seed, arguments)
    points, model_points = checkpoints(arguments)
    arms, fitted = {}, {}
    for arm in arguments.arms:
        if arm == survey_arms.CLASSIC_THEN_MODEL:
            continue
        twin = survey_arms.same_as(arm, arguments.arms, arguments)
        if twin is not None:
            arms[arm] = {**arms[twin], "same_as": twin}
            continue
        extra = None
        if arm == "classic" and survey_arms.CLASSIC_THEN_MODEL in arguments.arms:
            extra = survey_arms.classic_then_model(shared, model_points, fitted)
        arms[arm] = survey_arms.run_arm(arm, shared, points, extra)
        print(f"seed {seed} {arm}: {brief(arms[arm])}", flush=True)
    if fitted:
        classic = arms["classic"]
        arms[survey_arms.CLASSIC_THEN_MODEL] = {
            "votes": [0, *sorted(fitted), classic["votes"][-1]],
            "rmse": [
                classic["rmse"][0],
                *(fitted[v]["rmse"] for v in sorted(fitted)),
                classic["final_rmse"],
            ],  # fmt: skip
            "fits": {str(votes): point for votes, point in sorted(fitted.items())},
        }
    return {
        "seed": seed,
        "budget": shared.budget,
        "arms": arms,
        "seconds": round(time.time() - started, 1),
    }


def brief(arm: dict) -> str:
    return (
        f"final RMSE {arm['final_rmse']:.4f} after {arm['votes_spent']} votes, "
        f"{arm['versions']} versions ({arm['versions_worse_than_baseline']} worse than the "
        f"baseline), {arm['retired_by_model']} retired by the model, {arm['flagged']} flagged "
        f"({arm['seconds']:.0f} s: rounds {arm['round_seconds']:.0f} s, exports "
        f"{arm['checkpoint_seconds']:.0f} s)"
    )


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    partial_arguments = argparse.Namespace(
        **{**vars(arguments), "output": f"{arguments.output}_{arguments.dataset_name}"}
    )
    try:
        seeds, seconds = runs.run_seeds_resumable(
            run_seed, partial_arguments, range(arguments.seeds)
        )
    finally:
        shutil.rmtree(arguments.work_dir, ignore_errors=True)
    path = arguments.results_dir / f"{arguments.output}.json"
    earlier = json.loads(path.read_text()).get("datasets", {}) if path.exists() else {}
    entry = {
        "summary": survey_summary.summarise(seeds, arguments.arms),
        "seeds": seeds,
        "settings": runs.arguments_record(arguments),
        "seconds": seconds,
    }
    before = earlier.get(arguments.dataset_name, {})
    kept = before.get("screen") or before.get("summary", {}).get("screen")
    if not entry["summary"]["screen"] and kept:
        # A run without the candidates keeps the dataset's earlier screen (point 4's figures).
        entry["screen"] = kept
        entry["screen_settings"] = before.get("screen_settings", before.get("settings"))
    datasets = {**earlier, arguments.dataset_name: entry}
    result = runs.record(
        survey_summary.headline(datasets), arguments, argv, "survey", started, datasets=datasets
    )
    result["seconds"] = round(sum(entry["seconds"] for entry in datasets.values()), 1)
    plot = runs.write_result(result, arguments.results_dir, arguments.output)
    survey_summary.plot(datasets, plot)
    return result


if __name__ == "__main__":
    main()
