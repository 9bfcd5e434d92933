"""A real Celery worker process for the tests, against the test database and the test Redis.

`celery_worker` gives a test the shared `celery -A starling worker -Q celery,ml` (started once,
restarted if a test stopped it). Tests that need a worker of their own (to SIGKILL it, or with
other settings) ask for `only_own_workers` — which stops the shared one, so that no other worker
takes their tasks — then call `start_worker(**env)` and `.kill()`.
Tests using a worker need committed data: mark them `django_db(transaction=True)`.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.processes import start_logged

WORKER_LEASE_SECONDS = 8
# A worker's environment override for production's number of networks a version (an empty
# variable is unset: TrainingSettings' default).
PRODUCTION_MEMBERS = {"STARLING_MEMBERS": ""}


class WorkerProcess:
    def __init__(self, environment: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        options = "-Q celery,ml --concurrency 1 --pool prefork --loglevel INFO"
        options += " --without-gossip --without-mingle"
        options += f" --hostname test-{os.getpid()}-{time.monotonic_ns()}@%h"
        command = [sys.executable, "-m", "celery", "-A", "starling", "worker", *options.split()]
        self.process = start_logged(command, environment, self.log)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"celery worker exited with {self.process.returncode}: see {self.log_path}"
                )
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready after {timeout} s: see {self.log_path}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool children, as a machine dying would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture(scope="session")
def worker_environment(django_db_setup, tmp_path_factory):
    """Environment for worker processes: the test database, the test Redis, shared media/model folders."""
    shared = tmp_path_factory.mktemp("worker")
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "starling.settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "STARLING_DATA_DIR": str(shared),
        "MEDIA_ROOT": str(shared / "media"),
        "MODEL_ROOT": str(shared / "models"),
        "STARLING_TRAIN_EPOCHS": "3",
        "STARLING_FROZEN_EPOCHS": "2",
        # Three epochs are no match for the image-free baseline, and a version worse than it does
        # not reorder the queue: the loop tests judge nothing (no held-out split) so that every
        # version steers. The gate itself is tested with a worker of its own (test_loop.py).
        "STARLING_HELD_OUT_SHARE": "0",
        "STARLING_FRESH_RESTARTS": "1",  # one first model is enough for the loop tests
        # One network a version (production trains two): the loop's claims, leases, rounds and
        # recovery are the same for any number; the tests of production's two networks, and those
        # that kill a worker mid-scoring (timed on two), start a worker with PRODUCTION_MEMBERS.
        "STARLING_MEMBERS": "1",
        "STARLING_RETRAIN_LEASE_SECONDS": str(WORKER_LEASE_SECONDS),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # the tests' own Redis database
    return environment


@pytest.fixture(scope="session")
def _started_workers():
    return []


@pytest.fixture(scope="session")
def start_worker(worker_environment, tmp_path_factory, _started_workers):
    started: list[WorkerProcess] = _started_workers
    logs = tmp_path_factory.mktemp("worker-logs")

    def start(**overrides) -> WorkerProcess:
        environment = {
            **worker_environment,
            **{key: str(value) for key, value in overrides.items()},
        }
        worker = WorkerProcess(environment, logs / f"worker-{len(started)}.log")
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def _shared_worker():
    return {"worker": None}


@pytest.fixture
def celery_worker(start_worker, _shared_worker):
    worker = _shared_worker["worker"]
    if worker is None or not worker.alive():
        _shared_worker["worker"] = worker = start_worker()
    return worker


@pytest.fixture
def only_own_workers(_shared_worker, _started_workers):
    """Stop every running worker (the shared one, and any an earlier test started) before a test
    that starts, and kills, its own: no other worker may take its tasks. Its own stop after it."""
    for worker in _started_workers:
        worker.stop()
    _shared_worker["worker"] = None
    already = len(_started_workers)
    yield
    for worker in _started_workers[already:]:
        worker.stop()


@pytest.fixture
def worker_settings(settings, worker_environment):
    """Point this test process at the worker's folders and lease."""
    settings.MEDIA_ROOT = Path(worker_environment["MEDIA_ROOT"])
    settings.MODEL_ROOT = Path(worker_environment["MODEL_ROOT"])
    settings.STARLING_RETRAIN_LEASE_SECONDS = WORKER_LEASE_SECONDS
    return settings
