"""`make demo` as a new user runs it: SQLite, kombu's filesystem broker, web + worker + beat +
simulated volunteers, in a fresh data folder, with fast settings. Three rounds, no error in any
log, every vote acknowledged over HTTP stored, and a SIGTERM to make ends every process."""

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.faults.load import LoadResult, Volunteer
from tests.labelling.project.test_embedded_default import ROOT, embedded_environment
from tests.processes import free_port, wait_for_port

pytestmark = pytest.mark.slow
ROUNDS = 3
ERROR_MARKERS = ("Traceback", "ERROR", "CRITICAL", "database is locked")
# TensorFlow's probe for a GPU on a machine without one: an E-level line, not a fault of the demo.
NOT_ERRORS = ("failed call to cuInit",)


def session_processes(session_id: int) -> list[str]:
    """`pid command` of every process in the session (make, the script and all it started)."""
    listing = subprocess.run(
        ["ps", "-e", "-o", "pid=,sid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        f"{fields[0]} {fields[2] if len(fields) > 2 else ''}"
        for fields in (line.split(None, 2) for line in listing.splitlines())
        if int(fields[1]) == session_id
    ]


def count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(sql).fetchone()[0]


def volunteers_vote(port: int, result: LoadResult, stop: threading.Event, clients: int = 3):
    """Anonymous volunteers over HTTP, as the load tests' clients (same key on every retry)."""

    def client(seed):
        volunteer = Volunteer(port, "galaxy-zoo", seed, result, timeout=30)
        while not stop.is_set():
            if not volunteer.classify_one(time.monotonic() + 5):
                time.sleep(0.5)
            time.sleep(0.5)

    threads = [
        threading.Thread(target=client, args=(seed,), daemon=True) for seed in range(clients)
    ]
    for thread in threads:
        thread.start()
    return threads


def test_make_demo_runs_three_rounds_without_an_error_and_stops_on_sigterm(tmp_path):
    port = free_port()
    environment = embedded_environment(
        tmp_path,
        PORT=port,
        DEMO_SUBJECTS=100,
        DEMO_IMAGE_SIZE=24,
        DEMO_RETRAIN_AFTER_VOTES=40,
        DEMO_RATE=10,
        STARLING_BEAT_INTERVAL_SECONDS=3,
        STARLING_TRAIN_EPOCHS=2,
        # Two epochs rarely beat the image-free baseline, and a version worse than it records no
        # round: judge nothing here, so every version scores and reorders (the SQLite writes
        # this test is about). The gate has its own test in test_loop.py.
        STARLING_HELD_OUT_SHARE=0,
        STARLING_SCORE_CHUNK=50,
        # One network a version (production trains two: test_loop.py checks them): the rounds,
        # their writes and the processes are this test's subject, not the model's quality.
        STARLING_MEMBERS=1,
        STARLING_FRESH_RESTARTS=1,
    )
    database = tmp_path / "starling.sqlite3"
    output = open(tmp_path / "make.log", "wb")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "demo"],
        cwd=ROOT,
        env=environment,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    result, stop = LoadResult(), threading.Event()
    try:
        wait_for_port(port, timeout=300)
        clients = volunteers_vote(port, result, stop)
        deadline = time.monotonic() + 900
        while count(database, "SELECT count(*) FROM labelling_acquisitionround") < ROUNDS:
            assert make.poll() is None, (tmp_path / "make.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "fewer than three rounds in 15 minutes"
            time.sleep(2)
        stop.set()
        for client in clients:
            client.join(timeout=60)

        make.send_signal(signal.SIGTERM)  # to make only, as `kill <make's pid>` does
        make.wait(timeout=60)
        deadline = time.monotonic() + 30
        while session_processes(make.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert session_processes(make.pid) == [], "processes outlived the SIGTERM to make"
    finally:
        stop.set()
        if session_processes(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
        output.close()

    logs = {path.name: path.read_text() for path in (tmp_path / "logs").glob("*.log")}
    assert set(logs) >= {"web.log", "worker.log", "beat.log", "simulator.log"}
    for name, text in logs.items():
        errors = [
            line
            for line in text.splitlines()
            if any(m in line for m in ERROR_MARKERS) and not any(m in line for m in NOT_ERRORS)
        ]
        assert errors == [], f"{name}: {errors[:5]}"

    assert result.acknowledged, "no vote was acknowledged over HTTP"
    assert not [refusal for refusal in result.refused if refusal[0] != 409], result.refused[:5]
    acknowledged = {ack["classification"] for ack in result.acknowledged}
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT id FROM labelling_classification")}
    assert acknowledged <= stored, f"acknowledged but not stored: {acknowledged - stored}"
    assert (
        count(database, "SELECT count(*) FROM labelling_modelversion WHERE status != 'ready'") == 0
    )
    assert count(database, "SELECT count(*) FROM labelling_classification") > len(acknowledged)
