"""Serving speed: classification submits and next-subject, against a bare Django view, same server, same run.

gunicorn (gthread, workers sized to the cores) + PostgreSQL on 127.0.0.1 with projects of 10,000 and
1,000,000 subjects, where every load client is a volunteer who has already classified 1,000 subjects
(the 1,000 highest-priority ones: the worst case for next-subject, which must skip them). The load
generator (benchmarks/loadgen.py, asyncio, keep-alive) runs in its own process, bounded in time.

    .venv/bin/python benchmarks/serving.py [--seconds 10] [--sizes 10000,1000000] [--clients 8,32,64]
"""

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATABASE = "starling_bench"
sys.path.insert(0, str(ROOT))


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
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STARLING_DATA_DIR": str(workdir),
        "RATE_LIMIT_SUBMITS_PER_VOLUNTEER": "1000000",
        "RATE_LIMIT_SUBMITS_PER_ADDRESS": "10000000",
        "LOG_LEVEL": "WARNING",
    }


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def fill(size: int, clients: int, workdir: Path) -> dict:
    """A project of `size` subjects and `clients` volunteers who each classified the top 1,000."""
    import random

    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from labelling import services
    from labelling.models import Volunteer
    from mlworker import synthetic

    slug = f"bench-{size}"
    project = services.project_create(
        slug=slug,
        title=slug,
        questions=services.question_specs_from_dicts(synthetic.GALAXY_QUESTIONS),
    )
    rng = random.Random(size)
    now = timezone.now()
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(
            "COPY labelling_subject (project_id, image, content_hash, original_name, metadata, status, vote_counts,"
            " classification_count, priority, created_at) FROM STDIN"
        ) as copy,
    ):
        for index in range(size):
            copy.write_row(
                (
                    project.pk,
                    "subjects/bench.png",
                    f"{slug}-{index}",
                    "",
                    "{}",
                    "active",
                    "{}",
                    0,
                    rng.random(),
                    now,
                )
            )
    fill_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labelling_subject")
        cursor.execute(
            "SELECT id FROM labelling_subject WHERE project_id = %s ORDER BY priority DESC, id",
            [project.pk],
        )
        ordered = [row[0] for row in cursor.fetchall()]
    cookies = []
    volunteers = []
    for _ in range(clients):
        session = SessionStore()
        session.create()
        volunteers.append(Volunteer.objects.create(session_key=session.session_key))
        cookies.append(f"{session.session_key} {secrets.token_hex(16)}")
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(
            "COPY labelling_classification (project_id, subject_id, volunteer_id, annotations, idempotency_key,"
            " after_retirement, created_at) FROM STDIN"
        ) as copy,
    ):
        for volunteer in volunteers:
            for subject_id in ordered[:1000]:
                copy.write_row(
                    (
                        project.pk,
                        subject_id,
                        volunteer.pk,
                        '{"smooth-or-featured": "smooth"}',
                        f"seed-{subject_id}",
                        False,
                        now,
                    )
                )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labelling_classification")
    (workdir / f"{slug}.cookies").write_text("\n".join(cookies) + "\n")
    (workdir / f"{slug}.subjects").write_text("\n".join(str(s) for s in ordered[1000:60000]) + "\n")
    return {"slug": slug, "fill_seconds": round(fill_seconds, 1)}


def start_gunicorn(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "labelling.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def load(port, path, clients, seconds, workdir, slug, post=False, offset=0) -> dict:
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
            "--offset",
            str(offset),
        ]
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    arguments = parser.parse_args()
    sizes = [int(s) for s in arguments.sizes.split(",")]
    client_counts = [int(c) for c in arguments.clients.split(",")]
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "starling-serving-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    env = environment(workdir)
    os.environ.update(
        {
            k: v
            for k, v in env.items()
            if k not in os.environ
            or k
            in (
                "DJANGO_SETTINGS_MODULE",
                "DATABASE_URL",
                "REDIS_URL",
                "DEBUG",
                "SECRET_KEY",
                "SECURE_SSL_REDIRECT",
                "ALLOWED_HOSTS",
                "STARLING_DATA_DIR",
            )
        }
    )
    recreate_database()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    projects = {size: fill(size, max(client_counts), workdir) for size in sizes}
    port = free_port()
    server = start_gunicorn(env, port, arguments.workers, workdir / "gunicorn.log")
    cells = []
    try:
        for size in sizes:
            slug = projects[size]["slug"]
            for clients in client_counts:
                for endpoint, path, post in [
                    ("bare", "/bare", False),
                    ("next", f"/api/projects/{slug}/next", False),
                    ("submit", f"/api/projects/{slug}/classifications", True),
                ]:
                    # Each submit run gets its own range of subjects: no volunteer repeats one.
                    offset = 6000 * client_counts.index(clients)
                    cell = {
                        "subjects": size,
                        "clients": clients,
                        "endpoint": endpoint,
                        **load(port, path, clients, arguments.seconds, workdir, slug, post, offset),
                    }
                    cells.append(cell)
                    print(json.dumps(cell), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)

    def cell(size, clients, endpoint):
        return next(
            c
            for c in cells
            if c["subjects"] == size and c["clients"] == clients and c["endpoint"] == endpoint
        )

    largest, middle = (
        max(sizes),
        32 if 32 in client_counts else client_counts[len(client_counts) // 2],
    )
    headline = {
        "submit_vs_bare": round(
            cell(largest, middle, "submit")["per_second"]
            / cell(largest, middle, "bare")["per_second"],
            3,
        ),
        "next_vs_bare": round(
            cell(largest, middle, "next")["per_second"]
            / cell(largest, middle, "bare")["per_second"],
            3,
        ),
        "submit_p99_ms_at_32": cell(largest, middle, "submit")["p99_ms"],
        "next_p99_ms_at_32": cell(largest, middle, "next")["p99_ms"],
        "subjects": largest,
    }
    per_size = {
        str(size): {
            "submit_vs_bare": round(
                cell(size, middle, "submit")["per_second"]
                / cell(size, middle, "bare")["per_second"],
                3,
            ),
            "next_vs_bare": round(
                cell(size, middle, "next")["per_second"] / cell(size, middle, "bare")["per_second"],
                3,
            ),
        }
        for size in sizes
    }
    result = {
        "headline": headline,
        "ratios_at_32_clients_by_size": per_size,
        "cells": cells,
        "projects": projects,
        "settings": {
            **vars(arguments),
            "gunicorn": f"{arguments.workers} gthread workers x 4 threads",
            "cores": os.cpu_count(),
            "volunteer_history": "each client volunteer already classified the 1,000 highest-priority subjects",
        },
        "command": "make bench-serving",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(cells, sizes, client_counts, RESULTS / "serving.png")
    print(json.dumps(headline, indent=2))


def plot(cells, sizes, client_counts, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(sizes), 2, figsize=(11, 3.3 * len(sizes)), squeeze=False)
    for row, size in enumerate(sizes):
        for endpoint in ("bare", "next", "submit"):
            points = [c for c in cells if c["subjects"] == size and c["endpoint"] == endpoint]
            axes[row][0].plot(
                client_counts, [c["per_second"] for c in points], marker="o", label=endpoint
            )
            axes[row][1].plot(
                client_counts, [c["p99_ms"] for c in points], marker="o", label=endpoint
            )
        axes[row][0].set_ylabel(f"requests/s ({size:,} subjects)")
        axes[row][1].set_ylabel("p99 latency (ms)")
        axes[row][1].axhline(50, color="grey", linestyle="--", linewidth=1)
        for axis in axes[row]:
            axis.set_xlabel("concurrent clients")
            axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
