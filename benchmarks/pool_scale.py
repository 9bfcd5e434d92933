"""Score, rank and write back priorities for a pool of 1,000,000 subjects: seconds per 100,000 per stage.

- score: MC dropout samples (trunk once, T = 15) for every image, small images (default 16 px);
- rank: the acquisition score over the decision tree (mutual information per question) + top-k,
  with the round's exploration picks mixed in (`rounds.round_picks_choose`);
- write_back: the round's own write (`rounds.round_record`: the round, its picks and every new
  priority into PostgreSQL through the loop's bulk write), as `select_round` makes it.

Distinct images are tiled to the pool size (scoring cost does not depend on content). Every stage
runs on the whole pool by default (pool_scale.json's `seconds_total`); --scored N scores and ranks only N of it,
and the JSON then says which figure was measured on how many.

    .venv/bin/python -m benchmarks.pool_scale [--pool 1000000] [--size 16]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument(
        "--scored",
        type=int,
        default=1_000_000,
        help="score and rank only this many of the pool (reported per 100,000); write back all",
    )
    arguments = parser.parse_args()

    project, subject_ids = prepare_database(arguments.pool)
    from labelling.loop import rounds
    from labelling.loop.tasks import question_configs
    from labelling.models import ModelVersion
    from mlworker import acquisition, pipeline, synthetic
    from mlworker.model import build_model

    questions = question_configs(project)
    model = build_model(pipeline.model_config(questions, image_size=arguments.size))
    distinct = synthetic.make_galaxies(5000, size=arguments.size, seed=0).images[..., None]

    timings = {"score": 0.0, "rank": 0.0, "write_back": 0.0}
    scored = min(arguments.scored, arguments.pool)
    scores = (
        np.random.default_rng(1).random(arguments.pool) * 0.01
    )  # the unscored rest, for the write-back
    for start in range(0, scored, arguments.chunk):
        count = min(arguments.chunk, scored - start)
        images = distinct[np.arange(start, start + count) % len(distinct)]
        began = time.perf_counter()
        scores[start : start + count] = pipeline.score(
            model, images, volunteers=15, samples=arguments.samples
        ).scores  # MC samples (trunk once) and the tree's joint MI, as score_pool runs them
        timings["score"] += time.perf_counter() - began
        print(f"{start + count:,} scored", flush=True)
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    picked = acquisition.select("power_bald", scores, BATCH, rng)
    picks = rounds.round_picks_choose(
        scored_ids=subject_ids,
        picked=picked,
        batch_size=BATCH,
        exploration_share=project.exploration_share,
        rng=rng,
    )
    timings["rank"] += time.perf_counter() - began

    version = ModelVersion.objects.create(project=project, number=1, task_id="pool-scale")
    began = time.perf_counter()
    rounds.round_record(
        version=version,
        picks=picks,
        scores=dict(zip(subject_ids.tolist(), scores.tolist(), strict=True)),
    )
    timings["write_back"] = time.perf_counter() - began

    sizes = {"score": scored, "rank": scored, "write_back": arguments.pool}
    per_100k = {
        stage: round(seconds * 100_000 / sizes[stage], 2) for stage, seconds in timings.items()
    }
    result = {
        "headline": {"seconds_per_100k": per_100k},
        "seconds_total": {stage: round(seconds, 1) for stage, seconds in timings.items()},
        "pool": arguments.pool,
        "measured_items": sizes,
        "measured_on_full_pool": scored == arguments.pool,
        "note": (
            "every stage measured on the whole pool"
            if scored == arguments.pool
            else f"score and rank measured on {scored:,} of the {arguments.pool:,} subjects (the same code "
            "per chunk, so the time per 100,000 carries over); the write-back wrote all priorities"
        ),
        "settings": vars(arguments),
        "command": "make bench-pool-scale",
    }
    plots.pool_stages(per_100k, runs.write_result(result, runs.RESULTS, "pool_scale"))


def readme_row(result: dict) -> str:
    """This benchmark's row of the README's speed table (mc_scoring.readme_section)."""
    per_100k = result["headline"]["seconds_per_100k"]
    return (
        f"| pool of {result['pool']:,} ({result['settings']['size']} px) | `make bench-pool-scale` | "
        f"seconds per 100,000: score **{per_100k['score']:.1f}**, rank "
        f"**{per_100k['rank']:.1f}**, write back priorities to PostgreSQL "
        f"**{per_100k['write_back']:.1f}** ({result['note']}) |"
    )


if __name__ == "__main__":
    main()
