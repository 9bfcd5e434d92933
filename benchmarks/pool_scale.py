"""Score, rank and write back priorities for a pool of 1,000,000 subjects: seconds per 100,000 per stage.

- score: production's `pipeline.score` (MC samples, T = 15, then the tree's joint MI) for every
  image, on production's default version for a rotation-invariant project (`TrainingSettings.members`
  networks under `scoring.VIEWS` of the 8 symmetries: `scoring_cost.networks`) and, as a reference,
  one network without symmetries, at each `--sizes` (16 and 64 px), their chunks alternating;
- rank: the acquisition score over the decision tree (mutual information per question) + top-k,
  with the round's exploration picks mixed in (`rounds.round_picks_choose`), on the default's scores
  at the first size;
- write_back: the round's own write (`rounds.round_record`: the round, its picks and every new
  priority into PostgreSQL through the loop's bulk write), as `select_round` makes it.

Distinct images are tiled to the pool size (scoring cost does not depend on content). Rank and
write-back run on the whole pool; scoring on --scored N of it at each size (200,000 at 16 px and
10,000 at 64 px by default, so that the run stays within half an hour on this 2-core machine: the
same code per chunk, so the time per 100,000 carries over), and the JSON says which figure was
measured on how many. `headline.seconds_per_100k` holds the default's scoring at the first size.

    .venv/bin/python -m benchmarks.pool_scale [--pool 1000000] [--sizes 16,64] [--scored 200000,10000]
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks import plots, runs

DATABASE = "starling_pool_bench"
BATCH = 1000  # a round's picks


def prepare_database(pool: int):
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "DJANGO_SETTINGS_MODULE": "starling.settings",
            "STARLING_DATA_DIR": str(
                Path(os.environ.get("TMPDIR", "/tmp")) / "starling-pool-bench"
            ),
            # No Redis: the round's queue rebuild (after commit) is not what write_back measures.
            "REDIS_URL": "",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from benchmarks.bulk_subjects import galaxy_project_with_subjects

    call_command("migrate", verbosity=0)
    project = galaxy_project_with_subjects("pool", pool, lambda index: 0.0, timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM labelling_subject WHERE project_id = %s ORDER BY id", [project.pk]
        )
        return project, np.array([row[0] for row in cursor.fetchall()])


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="16,64", help="image sizes in px, comma-separated")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument(
        "--scored",
        default="200000,10000",
        help="score only this many of the pool at each size (one number, or one per size); the "
        "first size's default scores are ranked and every priority written back",
    )
    arguments = parser.parse_args(argv)
    try:
        arguments.sizes = [int(size) for size in arguments.sizes.split(",")]
        scored = [int(count) for count in arguments.scored.split(",")]
    except ValueError:
        parser.error(f"--sizes and --scored: expected integers, received {arguments.scored!r}")
    if len(scored) not in (1, len(arguments.sizes)) or min(scored) < 1:
        parser.error(f"--scored: expected one count >= 1, or one per size, received {scored}")
    arguments.scored = [min(count, arguments.pool) for count in scored * len(arguments.sizes)][
        : len(arguments.sizes)
    ]
    return arguments


def score_pool(models: dict, size: int, count: int, arguments) -> tuple[dict, np.ndarray]:
    """Seconds each model spends in `pipeline.score` on `count` images at `size` px, chunk by
    chunk, the models' order alternating; and the default's scores [count]."""
    from mlworker import pipeline, synthetic

    distinct = synthetic.make_galaxies(5000, size=size, seed=0).images[..., None]
    seconds, scores = dict.fromkeys(models, 0.0), np.zeros(count)
    for index, start in enumerate(range(0, count, arguments.chunk)):
        images = distinct[np.arange(start, min(start + arguments.chunk, count)) % len(distinct)]
        names = list(models)[index % 2 :] + list(models)[: index % 2]
        for name in names:
            began = time.perf_counter()
            scored = pipeline.score(
                models[name], images, volunteers=15, samples=arguments.samples
            ).scores  # MC samples and the tree's joint MI, as score_pool runs them
            seconds[name] += time.perf_counter() - began
            if name == "default":
                scores[start : start + len(images)] = scored
        print(f"{size} px: {start + len(images):,} scored", flush=True)
    return seconds, scores


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    project, subject_ids = prepare_database(arguments.pool)
    from benchmarks.scoring_cost import networks
    from labelling.loop import rounds
    from labelling.loop.tasks import question_configs
    from labelling.models import ModelVersion
    from mlworker import acquisition

    questions = question_configs(project)
    by_size, pool_scores = {}, None
    for size, count in zip(arguments.sizes, arguments.scored, strict=True):
        seconds, scores = score_pool(networks(size, questions), size, count, arguments)
        by_size[str(size)] = {
            "scored": count,
            "seconds_per_100k": {n: round(s * 100_000 / count, 2) for n, s in seconds.items()},
            "default_times_single": round(seconds["default"] / seconds["single"], 2),
        }
        if pool_scores is None:
            pool_scores = np.random.default_rng(1).random(arguments.pool) * 0.01  # unscored rest
            pool_scores[:count], timings = scores, {"score": seconds["default"]}
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    picked = acquisition.select("power_bald", pool_scores, BATCH, rng)
    picks = rounds.round_picks_choose(
        scored_ids=subject_ids,
        picked=picked,
        batch_size=BATCH,
        exploration_share=project.exploration_share,
        rng=rng,
    )
    timings["rank"] = time.perf_counter() - began

    version = ModelVersion.objects.create(project=project, number=1, task_id="pool-scale")
    began = time.perf_counter()
    rounds.round_record(
        version=version,
        picks=picks,
        scores=dict(zip(subject_ids.tolist(), pool_scores.tolist(), strict=True)),
    )
    timings["write_back"] = time.perf_counter() - began
    record(arguments, timings, by_size)


def record(arguments, timings: dict, by_size: dict) -> None:
    """The result file and its plot."""
    first = arguments.scored[0]
    sizes = {"score": first, "rank": arguments.pool, "write_back": arguments.pool}
    per_100k = {
        stage: round(seconds * 100_000 / sizes[stage], 2) for stage, seconds in timings.items()
    }
    result = {
        "headline": {
            "seconds_per_100k": per_100k,
            "score_seconds_per_100k": {s: row["seconds_per_100k"] for s, row in by_size.items()},
            "default_times_single": {s: row["default_times_single"] for s, row in by_size.items()},
        },
        "by_size": by_size,
        "seconds_total": {stage: round(seconds, 1) for stage, seconds in timings.items()},
        "pool": arguments.pool,
        "measured_items": sizes,
        "measured_on_full_pool": first == arguments.pool,
        "note": (
            "every stage measured on the whole pool"
            if first == arguments.pool
            else f"score measured on {first:,} of the {arguments.pool:,} subjects (the same code "
            "per chunk, so the time per 100,000 carries over); rank and write-back on all of them"
        ),
        "settings": vars(arguments),
        "command": "make bench-pool-scale",
    }
    plots.pool_stages(per_100k, runs.write_result(result, runs.RESULTS, "pool_scale"))


def readme_row(result: dict) -> str:
    """This benchmark's row of the README's speed table (mc_scoring.readme_section)."""
    per_100k, settings = result["headline"]["seconds_per_100k"], result["settings"]
    sizes = settings.get("sizes", [settings.get("size")])  # a run before issue 39: one network
    scoring = (
        "; ".join(
            f"{size} px: the default **{row['seconds_per_100k']['default']:.1f}** "
            f"({row['default_times_single']:.1f}x one network's {row['seconds_per_100k']['single']:.1f}, "
            f"on {row['scored']:,} subjects)"
            for size, row in result.get("by_size", {}).items()
        )
        or f"one network **{per_100k['score']:.1f}**"
    )
    return (
        f"| pool of {result['pool']:,} ({', '.join(map(str, sizes))} px) | "
        f"`make bench-pool-scale` | seconds per 100,000: score (`pipeline.score`, T = "
        f"{result['settings']['samples']}) {scoring}; rank **{per_100k['rank']:.1f}**, write back "
        f"priorities to PostgreSQL **{per_100k['write_back']:.1f}** ({result['note']}) |"
    )


if __name__ == "__main__":
    main()
