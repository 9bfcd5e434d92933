"""The stack the serving benchmark (serving.py) loads, and the load it sends: the environment and
database the web processes run against, the load generator's runs (loadgen.py) and pgbench's."""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
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
            "INSERT INTO labelling_volunteer (session_key, address_digest, created_at)"
            " SELECT 'pgbench-' || n, '', now() FROM generate_series(1, %s) AS n RETURNING id",
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


def worker_pids(master: int, workers: int) -> list[int]:
    """The web server's `workers` worker processes (children of its master, `master`), once all
    have started (the master listens before it forks them)."""
    for _ in range(300):
        with open(f"/proc/{master}/task/{master}/children") as stream:
            pids = [int(pid) for pid in stream.read().split()]
        if len(pids) >= workers:
            return pids
        time.sleep(0.1)
    raise RuntimeError(f"the web server started {len(pids)} of its {workers} workers")


def generator_command(module: str, **options) -> list[str]:
    """`python -m benchmarks.<module> --name value ...` (a name's underscores become dashes), to
    run from ROOT."""
    command = [sys.executable, "-m", f"benchmarks.{module}"]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return command


def load_command(port, path, clients, seconds, workdir, slug, post=False, cpu_pids=()) -> list:
    """The closed-loop generator's command line (loadgen.py) for one endpoint."""
    options = {"port": port, "path": path, "clients": clients, "seconds": seconds}
    options["cookies_file"] = workdir / f"{slug}.cookies"
    if cpu_pids:
        options["cpu_pids"] = ",".join(str(pid) for pid in cpu_pids)
    if post:
        options["post_json"] = (
            '{"subject": {subject}, "answers": {"smooth-or-featured": "smooth"}, '
            '"idempotency_key": "{key}"}'
        )
        options["subjects"] = workdir / f"{slug}.subjects"
        options["cursor_file"] = workdir / f"{slug}.cursors"
    return generator_command("loadgen", **options)


def run_generator(command: list[str], timeout: float) -> dict:
    """Run a load generator to its end; the JSON line it printed last."""
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=True, cwd=ROOT
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def load(port, path, clients, seconds, workdir, slug, post=False, cpu_pids=()) -> dict:
    command = load_command(port, path, clients, seconds, workdir, slug, post, cpu_pids)
    return run_generator(command, timeout=seconds + 120)


def open_loop(port, slug, rate, seconds, workdir, cpu_pids) -> dict:
    """Volunteers' classifications arriving at `rate` a second for `seconds` (openloop.py)."""
    command = generator_command(
        "openloop",
        port=port,
        slug=slug,
        rate=rate,
        seconds=seconds,
        cookies_file=workdir / f"{slug}.cookies",
        subjects=workdir / f"{slug}.subjects",
        cursor_file=workdir / f"{slug}.cursors",
        cpu_pids=",".join(str(pid) for pid in cpu_pids),
    )
    return run_generator(command, timeout=seconds + 180)


def endpoints(slug: str) -> list[tuple[str, str, bool]]:
    """(name, path, whether it is a POST) of the endpoints measured."""
    return [
        ("bare", "/bare", False),
        ("next", f"/api/projects/{slug}/next", False),
        ("submit", f"/api/projects/{slug}/classifications", True),
    ]


def profiles(port, slug, clients, seconds, workdir, master_pid) -> dict:
    """Each endpoint's CPU profile under `clients` closed-loop clients (serving_profile.py)."""
    from benchmarks import serving_profile

    found = {}
    for endpoint, path, post in endpoints(slug):
        command = load_command(port, path, clients, seconds + 5, workdir, slug, post)
        found[endpoint] = serving_profile.profile_under_load(
            lambda command=command: subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=ROOT),
            master_pid,
            seconds,
            workdir / f"{endpoint}.pyspy.txt",
        )
        print(json.dumps({"profile": endpoint, **found[endpoint]}), flush=True)
    return found


def measure_size(
    size, slug, script, client_counts, port, workdir, arguments, cpu_pids
) -> list[dict]:
    """Every endpoint at every client count for the project `slug` of `size` subjects (with the
    CPU time of the web processes `cpu_pids`), then pgbench's ceiling running `script` (the
    submit's statement)."""
    cells = []
    for clients in client_counts:
        for endpoint, path, post in endpoints(slug):
            measured = load(port, path, clients, arguments.seconds, workdir, slug, post, cpu_pids)
            cells.append({"subjects": size, "clients": clients, "endpoint": endpoint, **measured})
            print(json.dumps(cells[-1]), flush=True)
    for clients in client_counts:
        measured = pgbench(script, clients, arguments.seconds, workdir)
        cells.append({"subjects": size, "clients": clients, "endpoint": "pgbench", **measured})
        print(json.dumps(cells[-1]), flush=True)
    return cells


def start_gunicorn(env: dict, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "starling.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    return listening(process, port)


def listening(process: subprocess.Popen, port: int) -> subprocess.Popen:
    """`process` once it accepts connections on `port`."""
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the web server {process.args[:4]} did not start")


def start_granian(env: dict, port: int, workers: int, threads: int, workdir: Path):
    """The same application on granian (a WSGI server written in Rust), the same number of worker
    processes and of threads each: the comparison the closed-loop cells are set beside."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "starling.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(workdir / "granian.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    return listening(process, port)
