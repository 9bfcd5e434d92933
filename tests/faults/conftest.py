"""Gunicorn against the test database, on a free loopback port, for the fault tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
WEB_APPLICATION_NAME = "starling-fault-web"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class Gunicorn:
    def __init__(self, environment: dict, log: Path, workers: int = 2):
        self.port = free_port()
        self.log = open(log, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "labelling.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
            "DJANGO_SETTINGS_MODULE": "labelling.settings",
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
