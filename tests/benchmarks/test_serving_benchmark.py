"""The serving benchmark's own instruments: the open-loop generator (benchmarks/openloop.py) against
a small real HTTP server whose speed the test sets, and the profile's layers
(benchmarks/serving_profile.py). The benchmark itself runs with `make bench-serving`."""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks import serving_profile, serving_summary

ROOT = Path(__file__).resolve().parents[2]


class OneAtATime(BaseHTTPRequestHandler):
    """Answers every request after `seconds_each`, one request at a time over all connections."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the web server under test
    lock = threading.Lock()
    seconds_each = 0.0
    seen: list = []

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.lock:
            time.sleep(self.seconds_each)
            self.seen.append((self.command, self.path, body))
        reply = b'{"ok": true}'
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = answer

    def log_message(self, *arguments):
        pass


@pytest.fixture
def server_taking():
    """server_taking(seconds) -> (port, handler class) of a server answering one request per
    `seconds`; the handler class records what it was sent (`seen`)."""
    servers = []

    def start(seconds: float) -> int:
        handler = type("Handler", (OneAtATime,), {"seconds_each": seconds, "seen": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def open_loop(port: int, rate: float, seconds: float, folder: Path) -> dict:
    (folder / "cookies").write_text("".join(f"session{i} csrf{i}\n" for i in range(4)))
    (folder / "subjects").write_text("\n".join(str(1000 + i) for i in range(2000)) + "\n")
    command = [sys.executable, "-m", "benchmarks.openloop", "--port", str(port)]
    command += ["--slug", "s", "--rate", str(rate), "--seconds", str(seconds), "--warmup", "0.5"]
    command += ["--cookies-file", str(folder / "cookies"), "--subjects", str(folder / "subjects")]
    command += ["--cursor-file", str(folder / "cursors"), "--drain-seconds", "20"]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=True, cwd=ROOT
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def test_open_loop_keeps_its_rate_and_mix_on_a_server_that_keeps_up(server_taking, tmp_path):
    port, handler = server_taking(0.001)
    run = open_loop(port, rate=100, seconds=2, folder=tmp_path)
    assert run["errors"] == 0 and run["unanswered"] == 0
    assert run["submit"]["requests"] == 200  # 100 a second for 2 s, the warm-up not counted
    # Every third classification of each of the 4 volunteers also asks for the next three.
    assert run["next"]["requests"] == 66
    assert 95 <= run["achieved_per_s"] <= 101
    assert run["submit"]["p99_ms"] < 100
    assert serving_summary.holds(run)
    posts = [json.loads(body) for method, _, body in handler.seen if method == "POST"]
    assert all(path.endswith("next?count=3") for method, path, _ in handler.seen if method == "GET")
    # Each volunteer walks the subjects from its own cursor: no volunteer is sent one twice.
    assert len({post["idempotency_key"] for post in posts}) == len(posts) == 250
    cursors = json.loads((tmp_path / "cursors").read_text())
    assert cursors == {str(volunteer): 63 if volunteer < 2 else 62 for volunteer in range(4)}


def test_open_loop_counts_latency_from_when_each_request_was_due(server_taking, tmp_path):
    # 50 answers a second at most, 100 classifications a second due (and a third more nexts):
    # the queue grows for the whole run, and the last requests wait for seconds.
    port, _ = server_taking(0.02)
    run = open_loop(port, rate=100, seconds=2, folder=tmp_path)
    assert run["submit"]["p99_ms"] > 1500  # a closed-loop client would see about 20 ms
    assert run["achieved_per_s"] < 60
    assert not serving_summary.holds(run)


def test_profile_puts_each_sample_in_its_innermost_layer():
    raw = "\n".join(
        [
            "gthread.py:handle (gunicorn/workers/gthread.py:1);handler (django/core/handlers/base.py:2) 5",
            "x (gunicorn/workers/gthread.py:1);view (labelling/volunteer/api.py:3);"
            "execute (psycopg/cursor.py:4) 3",
            "x (gunicorn/workers/gthread.py:1);view (labelling/volunteer/api.py:3) 1",
            "x (gunicorn/workers/gthread.py:1);call (labelling/core/redis_scripts.py:5) 1",
            "run (threading.py:9) 0",
        ]
    )
    summary = serving_profile.summarise(raw)
    assert summary["samples"] == 10
    assert summary["layers_percent"] == {
        "Django: middleware and handler": 50.0,
        "PostgreSQL client (psycopg, Django's database layer)": 30.0,
        "Starling's view code": 10.0,
        "Redis client (redis-py, our script calls)": 10.0,
    }
