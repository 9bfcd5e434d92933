"""Where the web processes' CPU goes under load: py-spy samples of every worker, summed by layer.

py-spy (`--gil`: only the thread holding Python's lock, so waiting on PostgreSQL or Redis is not
counted) records the web server's workers while the closed-loop generator loads one endpoint.
Each sample goes to the layer of its innermost frame that names one (LAYERS below): a database
call made by the view counts as the database client, the rest of the view as the view.
"""

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# (layer, markers in a frame's text), innermost first: a sample counts for the first layer found
# going from its innermost frame outwards.
LAYERS = (
    ("PostgreSQL client (psycopg, Django's database layer)", ("psycopg/", "django/db/")),
    ("Redis client (redis-py, our script calls)", ("redis/", "redis_scripts.py")),
    ("session cookie (signature, decoding)", ("django/contrib/sessions/", "django/core/signing")),
    ("Starling's view code", ("labelling/",)),
    ("the API's fast path (starling/api_fastpath.py)", ("api_fastpath.py",)),
    ("the bare view", ("bench_urls.py",)),
    ("Django: URL routing, request, response", ("django/urls/", "django/http/")),
    ("Django: middleware and handler", ("django/", "whitenoise/", "axes/", "csp/", "starling/")),
    ("web server (gunicorn)", ("gunicorn/",)),
)
OTHER = "other (threads, interpreter)"


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for layer, markers in LAYERS:
            if any(marker in frame for marker in markers):
                return layer
    return OTHER


def summarise(raw: str) -> dict:
    """py-spy's collapsed stacks ("frame;frame;... count" per line) -> samples and the share of
    each layer (percent of samples), largest first."""
    counts, total = Counter(), 0
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or number == "0":
            continue
        samples = int(number)
        counts[layer_of(stack.split(";"))] += samples
        total += samples
    return {
        "samples": total,
        "layers_percent": {
            layer: round(100 * n / total, 1) for layer, n in counts.most_common() if total
        },
    }


def record(master_pid: int, seconds: float, output: Path) -> str:
    """py-spy over the web server's master and its workers for `seconds`; the collapsed stacks."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(master_pid),
            "--subprocesses",
            "--gil",
            "--nonblocking",
            "--rate",
            "200",
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )
    return output.read_text()


def profile_under_load(start_load, master_pid: int, seconds: float, output: Path) -> dict:
    """Start the load (`start_load()` returns its process), record once it runs, summarise."""
    load = start_load()
    try:
        time.sleep(2.5)  # past the generator's warm-up
        raw = record(master_pid, seconds, output)
    finally:
        load.wait(timeout=seconds + 120)
    return summarise(raw)
