"""The embedded default (SQLite file, no servers) under several writers, in real processes."""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def embedded_environment(data_dir: Path, **overrides) -> dict:
    """The environment `make demo` runs in: no DATABASE_URL or REDIS_URL, data under `data_dir`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "starling.settings",
            "STARLING_DATA_DIR": str(data_dir),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **{key: str(value) for key, value in overrides.items()},
        }
    )
    return environment


def manage(environment: dict, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def demo_database(tmp_path: Path, subjects: int = 30) -> tuple[dict, Path]:
    environment = embedded_environment(tmp_path)
    for arguments in (
        ("migrate", "--verbosity", "0"),
        ("create_demo_project", "--subjects", str(subjects), "--size", "16"),
    ):
        done = manage(environment, *arguments)
        assert done.returncode == 0, done.stderr
    return environment, tmp_path / "starling.sqlite3"


def test_the_sqlite_file_is_in_wal_mode(tmp_path):
    _, database = demo_database(tmp_path, subjects=2)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_simulator_survives_the_database_locked_past_its_timeout(tmp_path):
    environment, database = demo_database(tmp_path)
    stop = threading.Event()
    locks_held = []

    def hold_the_write_lock():
        """Another writer (as the worker writing a round) holding the lock for 2.5 s at a time."""
        holder = sqlite3.connect(database, timeout=30, isolation_level=None)
        while not stop.is_set():
            holder.execute("BEGIN IMMEDIATE")
            locks_held.append(time.monotonic())
            time.sleep(2.5)
            holder.execute("COMMIT")
            time.sleep(0.3)
        holder.close()

    locker = threading.Thread(target=hold_the_write_lock, daemon=True)
    locker.start()
    try:
        done = manage(
            {**environment, "SQLITE_TIMEOUT_SECONDS": "1"},
            "simulate_volunteers",
            "galaxy-zoo",
            "--classifications",
            "40",
            "--rate",
            "10",
            "--verbosity",
            "0",
        )
    finally:
        stop.set()
        locker.join()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "transient database error" in done.stderr, "the lock never got in the way"
    assert "submitted 40 classifications" in done.stdout
    assert len(locks_held) >= 2
    with sqlite3.connect(database) as connection:
        assert (
            connection.execute("SELECT count(*) FROM labelling_classification").fetchone()[0] == 40
        )
