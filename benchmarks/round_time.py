"""Wall time of one full round (retrain + score + select) on the embedded default, with a real worker.

Creates a throwaway SQLite project of N synthetic galaxies at SIZE px, simulates votes, starts a
Celery worker on the filesystem broker, runs `manage.py retrain --wait`, and reads the stage timings
the tasks record in the model version.

    .venv/bin/python -m benchmarks.round_time [--subjects 1000] [--size 64] [--classifications 3000]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import runs

ROOT = runs.ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--classifications", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--output", default="round_time", help="result file name (no .json)")
    arguments = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="starling-round-"))
    env = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        {
            "STARLING_DATA_DIR": str(workdir),
            "DJANGO_SETTINGS_MODULE": "starling.settings",
            "STARLING_TRAIN_EPOCHS": str(arguments.epochs),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    )

    def manage(*args):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)

    manage("migrate", "-v0")
    manage(
        "create_demo_project",
        "--subjects",
        str(arguments.subjects),
        "--size",
        str(arguments.size),
        "-v0",
    )
    manage(
        "simulate_volunteers",
        "galaxy-zoo",
        "--classifications",
        str(arguments.classifications),
        "-v0",
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            *"-m celery -A starling worker -Q celery,ml --concurrency 1 --loglevel WARNING".split(),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        started = time.perf_counter()
        manage("retrain", "galaxy-zoo", "--wait", "--timeout", "3600")
        wall = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    import sqlite3

    database = sqlite3.connect(workdir / "starling.sqlite3")
    row = database.execute(
        "SELECT timings, training_set_size, device, id FROM labelling_modelversion"
        " ORDER BY number DESC LIMIT 1"
    ).fetchone()
    # A round scores every subject, retired ones too (the catalogue's, issue 41): how many of
    # each the score stage covered.
    scored, retired = database.execute(
        "SELECT count(*), sum(subject.status = 'retired') FROM labelling_prediction AS prediction"
        " JOIN labelling_subject AS subject ON subject.id = prediction.subject_id"
        " WHERE prediction.model_version_id = ?",
        (row[3],),
    ).fetchone()
    timings = json.loads(row[0])
    stages = {name: timings.get(f"{name}_seconds") for name in ("load", "train", "score", "select")}
    result = {
        "headline": {
            "round_seconds": round(wall, 1),
            "dominant_stage": max(stages, key=lambda s: stages[s] or 0),
        },
        "stages_seconds": stages,
        "epochs": timings.get("epochs"),
        "training_set_size": row[1],
        "device": row[2],
        "scored_subjects": scored,
        "scored_retired_subjects": retired or 0,
        "settings": vars(arguments),
        "command": "make bench-round-time",
        "note": "wall time from `retrain --wait` to the recorded round, including queueing and TensorFlow import",
    }
    runs.write_result(result, runs.RESULTS, arguments.output)
    shutil.rmtree(workdir, ignore_errors=True)


def readme_row(result: dict) -> str:
    """This benchmark's row of the README's speed table (mc_scoring.readme_section)."""
    stages, settings = result["stages_seconds"], result["settings"]
    return (
        f"| one full round, {settings['subjects']:,} subjects at "
        f"{settings['size']}x{settings['size']} | `{result['command']}` | "
        f"**{result['headline']['round_seconds']:.0f} s** from `retrain --wait` to the recorded "
        f"round on the embedded default: training {stages['train']:.0f} s "
        f"({result['training_set_size']} labelled subjects, {result['epochs']} epochs), scoring "
        f"the pool {stages['score']:.1f} s{_scored(result)}, selection {stages['select']:.1f} s; "
        "the rest is TensorFlow's import and queueing |"
    )


def _scored(result: dict) -> str:
    """How many subjects the score stage covered, and the retired ones among them (results from
    before issue 41, which scored the active ones only, do not say)."""
    if "scored_subjects" not in result:
        return ""
    seconds = result["stages_seconds"]["score"]
    return (
        f" ({result['scored_subjects']:,} subjects, {result['scored_retired_subjects']:,} of them "
        f"retired, {1000 * seconds / max(result['scored_subjects'], 1):.1f} ms each)"
    )


if __name__ == "__main__":
    main()
