"""Gunicorn against the test database, on a free loopback port, for the fault tests."""

import datetime
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.outputs import DOCS, ROOT, docs_folder
from tests.processes import free_port, start_logged, wait_for_port

WEB_APPLICATION_NAME = "starling-fault-web"


def record_result(name: str, **counts) -> None:
    """Store one fault test's counts (with the date) in reliability.json, replacing its last, and
    regenerate reliability.md's table from it (scripts/reliability_doc.py): in docs/ for
    `make docs-figures`, else in test-artifacts/docs/, starting from docs/' counts."""
    folder = docs_folder()
    results_file = folder / "reliability.json"
    start = results_file if results_file.exists() else DOCS / "reliability.json"
    results = json.loads(start.read_text()) if start.exists() else {}
    results[name] = {**counts, "date": datetime.date.today().isoformat()}
    results_file.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "reliability_doc.py"),
            "--results",
            str(results_file),
            "--output",
            str(folder / "reliability.md"),
        ],
        check=True,
    )
    print(f"[fault result] {name}: {counts} ({results_file})")


class Gunicorn:
    def __init__(self, environment: dict, log: Path, workers: int = 2):
        self.port = free_port()
        self.log = open(log, "ab")
        options = f"--bind 127.0.0.1:{self.port} --workers {workers} --threads 4"
        options += " --worker-class gthread --timeout 30 --graceful-timeout 5"
        command = [sys.executable, "-m", "gunicorn", "starling.wsgi", *options.split()]
        self.process = start_logged(command, environment, self.log)
        wait_for_port(self.port)

    def worker_pids(self) -> list[int]:
        output = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in output.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def start_gunicorn(django_db_setup, tmp_path):
    started: list[Gunicorn] = []
    database = connection.settings_dict

    def start(**overrides) -> Gunicorn:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "starling.settings",
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
                f"?application_name={WEB_APPLICATION_NAME}"
            ),
            "STARLING_DATA_DIR": str(tmp_path),
            "RATE_LIMIT_SUBMITS_PER_VOLUNTEER": "100000",
            "RATE_LIMIT_SUBMITS_PER_ADDRESS": "1000000",
            "REDIS_URL": os.environ.get("TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/14"),
            **{key: str(value) for key, value in overrides.items()},
        }
        server = Gunicorn(environment, tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_beat(worker_environment, tmp_path):
    """A real `celery beat` on the test broker, checking the projects every `interval` seconds."""
    started: list[subprocess.Popen] = []
    logs: list = []

    def start(interval: int = 2) -> subprocess.Popen:
        log = open(tmp_path / f"beat-{len(started)}.log", "ab")
        logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "starling",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(tmp_path / f"beat-schedule-{len(started)}"),
            ],
            cwd=ROOT,
            env={**worker_environment, "STARLING_BEAT_INTERVAL_SECONDS": str(interval)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
    for log in logs:
        log.close()
