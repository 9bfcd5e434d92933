"""What next and submit would cost with Django's handler out of their path: a probe for issue 27.

Three gunicorn servers side by side, with the same workers and threads, on one project of 10,000
subjects with 32 volunteers (PostgreSQL + Redis on 127.0.0.1):
- production: `starling.wsgi`;
- the probe: benchmarks/fastpath_probe_app.py. It answers next and submit with the same service
  calls and sends everything else, the bare view included, to Django;
- the probe without the submit's rate limit: the most that folding the rate limit into the
  queue's Redis round trip (issue 27's other candidate) could add to the probe.

Rounds of bare, next and submit at 32 clients run on one server, then on the other, in turn. Each
cell's web CPU per request comes from the workers' own counters (loadgen.py --cpu-pids), and the
headline is each endpoint's median against the same server's bare view. Afterwards the stored
classifications are checked against every submit sent, so a probe that skipped work would show.

    .venv/bin/python benchmarks/serving_fastpath_probe.py [--rounds 5] [--seconds 6]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import common, plots, serving  # noqa: E402
from benchmarks import serving_stack as stack  # noqa: E402

RESULT = "serving_fastpath_probe"
# name: (WSGI module, extra environment)
SERVERS = {
    "django": ("starling.wsgi", {}),
    "without_django": ("benchmarks.fastpath_probe_app", {}),
    # and with the rate limit's Redis round trip left out too: the most a fold could add
    "without_django_or_rate_limit": (
        "benchmarks.fastpath_probe_app",
        {"STARLING_PROBE_SKIP_RATE_LIMIT": "1"},
    ),
}
SUBJECTS, CLIENTS = 10_000, 32


def start(module: str, env: dict, workers: int, threads: int, log: Path):
    """gunicorn serving `module` as the serving benchmark runs production: (process, port, pids)."""
    port = stack.free_port()
    command = [sys.executable, "-m", "gunicorn", module, "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)]
    command += ["--keep-alive", "30"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT
    )
    serving.listening(process, port)
    return process, port, stack.worker_pids(process.pid, workers)


def stored_classifications(project_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM labelling_classification WHERE project_id = %s", [project_id]
        )
        return cursor.fetchone()[0]


def summarise(runs: list[dict], stored: int, sent_submits: int) -> dict:
    by = {}
    for run in runs:
        by.setdefault((run["server"], run["endpoint"]), []).append(run)
    headline = {}
    for server in SERVERS:
        cpu = {
            endpoint: statistics.median(
                run["server_cpu_ms_per_request"] for run in by[(server, endpoint)]
            )
            for endpoint in ("bare", "next", "submit")
        }
        headline[server] = {f"{endpoint}_cpu_ms": round(ms, 3) for endpoint, ms in cpu.items()}
        headline[server] |= {
            f"{endpoint}_x_bare": round(cpu[endpoint] / cpu["bare"], 2)
            for endpoint in ("next", "submit")
        }
    headline["errors"] = sum(run["errors"] for run in runs)
    headline["stored_equals_sent"] = stored == sent_submits
    return headline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--threads", type=int, default=4)
    arguments = parser.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "starling-fastpath-probe"
    workdir.mkdir(parents=True, exist_ok=True)
    env = stack.environment(workdir)
    stack.use_environment(env)
    stack.recreate_database()
    import redis

    redis.Redis.from_url(stack.REDIS_URL).flushdb()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    project = serving.fill(SUBJECTS, CLIENTS, workdir)
    slug, seeded = project["slug"], stored_classifications(project["project_id"])
    servers = {
        name: start(
            module, env | extra, arguments.workers, arguments.threads, workdir / f"{name}.log"
        )
        for name, (module, extra) in SERVERS.items()
    }
    runs = []
    started = time.time()
    try:
        for _, port, pids in servers.values():  # warm-up, not in the figures
            for _endpoint, path, post in stack.endpoints(slug):
                stack.load(port, path, CLIENTS, 2, workdir, slug, post, pids)
        for _ in range(arguments.rounds):
            for name, (_, port, pids) in servers.items():
                for endpoint, path, post in stack.endpoints(slug):
                    measured = stack.load(
                        port, path, CLIENTS, arguments.seconds, workdir, slug, post, pids
                    )
                    runs.append({"server": name, "endpoint": endpoint} | measured)
                    print(json.dumps(runs[-1]), flush=True)
    finally:
        for process, _, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
        redis.Redis.from_url(stack.REDIS_URL).flushdb()
    # Every submit sent (the volunteers' cursors count them all, the generator's own warm-up
    # included) was answered 2xx and is a stored classification.
    cursors = json.loads((workdir / f"{slug}.cursors").read_text())
    sent = sum(cursors.values())
    stored = stored_classifications(project["project_id"]) - seeded
    result = {
        "headline": summarise(runs, stored, sent),
        "stored_classifications": stored,
        "sent_submits": sent,
        "runs": runs,
        "settings": vars(arguments)
        | {"subjects": SUBJECTS, "clients": CLIENTS, "cores": os.cpu_count()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
    }
    plot = common.write_result(result, common.RESULTS, RESULT)
    plots.serving_fastpath_probe(result, serving.CPU_TARGETS, plot)
    print(json.dumps(result["headline"]))


if __name__ == "__main__":
    main()
