"""The stack the serving benchmark (serving.py) loads, and the load it sends: the environment and
database the web processes run against, the load generator's runs (loadgen.py) and pgbench's."""

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "starling_bench"
REDIS_URL = "redis://127.0.0.1:6379/5"  # this benchmark's own Redis database (flushed at the start)
PGBENCH_VOLUNTEERS = 2000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(workdir: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings_bench",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": REDIS_URL,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STARLING_DATA_DIR": str(workdir),
        "RATE_LIMIT_SUBMITS_PER_VOLUNTEER": "1000000",
        "RATE_LIMIT_SUBMITS_PER_ADDRESS": "10000000",
        "LOG_LEVEL": "WARNING",
        # A Redis reply slower than this counts as an outage (SQL answers, the version is bumped):
        # 1 s here so that the shared machine's stalls do not turn a cell into an outage test.
        "STARLING_QUEUE_REDIS_TIMEOUT_SECONDS": "1.0",
    }


def use_environment(env: dict) -> None:
    """This process takes the benchmark's database, Redis, settings and data folder (and whatever
    else of `env` it has no value for)."""
    own = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")
    own += ("SECURE_SSL_REDIRECT", "ALLOWED_HOSTS", "STARLING_DATA_DIR")
    os.environ.update({k: v for k, v in env.items() if k not in os.environ or k in own})


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def pgbench_volunteers() -> tuple[int, int]:
    """Volunteers for pgbench's votes, apart from the load generator's; (first id, last id)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labelling_volunteer (session_key, created_at)"
            " SELECT 'pgbench-' || n, now() FROM generate_series(1, %s) AS n RETURNING id",
            [PGBENCH_VOLUNTEERS],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return min(ids), max(ids)


def pgbench(script: Path, clients: int, seconds: float, workdir: Path) -> dict:
    """Transactions/s and latency percentiles of `script` at `clients` connections."""
    logs = workdir / "pgbench-logs"
    if logs.exists():
        for old in logs.iterdir():
            old.unlink()
    logs.mkdir(exist_ok=True)
    command = [
        "pgbench",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-n",
        "-M",
        "prepared",
        "-f",
        str(script),
        "-c",
        str(clients),
        "-j",
        str(min(clients, os.cpu_count() or 2)),
        "-T",
        str(max(1, int(round(seconds)))),
        "-l",
        "--log-prefix",
        str(logs / "tx"),
        DATABASE,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True, cwd=logs
    ).stdout
    latencies, failed = [], 0
    for log in logs.iterdir():
        for line in log.read_text().splitlines():
            fields = line.split()
            if fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000.0)
            else:  # "failed" or "skipped"
                failed += 1
    latencies.sort()
    tps = next(
        float(line.split("=")[1].split()[0])
        for line in output.splitlines()
        if line.startswith("tps")
    )
    return {
        "requests": len(latencies),
        "errors": failed,
        "per_second": round(tps, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
    }


def load(port, path, clients, seconds, workdir, slug, post=False) -> dict:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "loadgen.py"),
        "--port",
        str(port),
        "--path",
        path,
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
        "--cookies-file",
        str(workdir / f"{slug}.cookies"),
    ]
    if post:
        command += [
            "--post-json",
            '{"subject": {subject}, "answers": {"smooth-or-featured": "smooth"}, '
            '"idempotency_key": "{key}"}',
            "--subjects",
            str(workdir / f"{slug}.subjects"),
            "--cursor-file",
            str(workdir / f"{slug}.cursors"),
        ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure_size(size, slug, script, client_counts, port, workdir, arguments) -> list[dict]:
    """Every endpoint at every client count for the project `slug` of `size` subjects, then
    pgbench's ceiling running `script` (the submit's statement)."""
    cells = []
    for clients in client_counts:
        for endpoint, path, post in [
            ("bare", "/bare", False),
            ("next", f"/api/projects/{slug}/next", False),
            ("submit", f"/api/projects/{slug}/classifications", True),
        ]:
            measured = load(port, path, clients, arguments.seconds, workdir, slug, post)
            cells.append({"subjects": size, "clients": clients, "endpoint": endpoint, **measured})
            print(json.dumps(cells[-1]), flush=True)
    for clients in client_counts:
        measured = pgbench(script, clients, arguments.seconds, workdir)
        cells.append({"subjects": size, "clients": clients, "endpoint": "pgbench", **measured})
        print(json.dumps(cells[-1]), flush=True)
    return cells
