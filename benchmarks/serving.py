"""Serving speed: classification submits and next-subject, against a bare Django view, same server, same run.

gunicorn (one configuration for all endpoints) + PostgreSQL + Redis on 127.0.0.1 with projects of
10,000 and 1,000,000 subjects, where every load client is a volunteer who has already classified
1,000 subjects (the 1,000 highest-priority ones: the worst case for next-subject, which must skip
them). The queue is built in Redis after the fill, as `select_round` does after a round. The load
generator (benchmarks/loadgen.py, asyncio, keep-alive) runs in its own process, bounded in time.
The database's own ceiling for the submit's writes is measured with `pgbench` running the very
statement `classification_submit` sends, at the same client counts.

    .venv/bin/python benchmarks/serving.py [--seconds 6] [--sizes 10000,1000000] [--clients 8,32,64]
"""

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import common, plots  # noqa: E402
from benchmarks import serving_stack as stack  # noqa: E402
from benchmarks.serving_stack import REDIS_URL  # noqa: E402

RESULTS = common.RESULTS
README_MARKER = "serving"
# This benchmark's row of the README's speed table (mc_scoring.readme_section).
SPEED_ROW = (
    "| serving, gunicorn + PostgreSQL + Redis | `make bench-serving` | next-subject and submit "
    "against a bare Django view and `pgbench`, 8/32/64 clients, 10,000 and 1,000,000 "
    'subjects: see "Serving" below the table |'
)


def fill(size: int, clients: int, workdir: Path) -> dict:
    """A project of `size` subjects and `clients` volunteers who each classified the top 1,000."""
    import random

    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.db import connection
    from django.utils import timezone

    from benchmarks.bulk_subjects import galaxy_project_with_subjects
    from labelling.volunteer import accounts
    from labelling.volunteer.api import SESSION_VOLUNTEER

    slug = f"bench-{size}"
    rng = random.Random(size)
    now = timezone.now()
    started = time.perf_counter()
    project = galaxy_project_with_subjects(slug, size, lambda index: rng.random(), now)
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
        volunteer = accounts.volunteer_create_anonymous()
        session = SessionStore()  # what a browser holds after its first request
        session[SESSION_VOLUNTEER] = [volunteer.pk, None]
        session.save()
        volunteers.append(volunteer)
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
    (workdir / f"{slug}.subjects").write_text("\n".join(str(s) for s in ordered[1000:61000]) + "\n")
    (workdir / f"{slug}.cursors").unlink(missing_ok=True)
    (workdir / "gunicorn.log").unlink(missing_ok=True)
    queue_seconds, queue_bytes = build_queue(project.pk)
    return {
        "slug": slug,
        "project_id": project.pk,
        "fill_seconds": round(fill_seconds, 1),
        "queue_build_seconds": queue_seconds,
        "queue_redis_megabytes": round(queue_bytes / 1e6, 1),
        "first_subject": min(ordered),
        "last_subject": max(ordered),
    }


def build_queue(project_id: int) -> tuple[float, int]:
    """Build the project's Redis queue as `select_round` does after a round: (seconds, bytes)."""
    import redis

    from labelling.models import Project
    from labelling.queue import builder as queue_builder

    started = time.perf_counter()
    version = Project.objects.values_list("serving_version", flat=True).get(pk=project_id)
    if not queue_builder.queue_build(project_id=project_id, version=version):
        raise RuntimeError("the queue could not be built: is Redis up?")
    seconds = round(time.perf_counter() - started, 1)
    client = redis.Redis.from_url(REDIS_URL)
    footprint = sum(
        client.memory_usage(f"starling:{kind}:{project_id}:{version}", samples=0) or 0
        for kind in ("queue", "images")
    )
    return seconds, footprint


def pgbench_script(project: dict, volunteers: tuple[int, int], path: Path) -> Path:
    """The submit's statement (labelling.volunteer.submission.SUBMIT_SQL) with pgbench variables."""
    from labelling.volunteer.submission import SUBMIT_SQL, _counts_sql

    counts, _ = _counts_sql({"smooth-or-featured": "smooth"})
    statement = SUBMIT_SQL.replace("{counts}", counts)
    for name, value in {
        "%(question_0)s": "'smooth-or-featured'",
        "%(answer_0)s": "'smooth'",
        "%(subject)s": ":subject",
        "%(project)s": str(project["project_id"]),
        "%(volunteer)s": ":volunteer",
        "%(annotations)s": '\'{"smooth-or-featured": "smooth"}\'',
        "%(key)s": "('pgbench-' || :client_id || '-' || :nonce)",
        "%(limit)s": "15",
    }.items():
        statement = statement.replace(name, value)
    path.write_text(
        f"\\set subject random({project['first_subject']}, {project['last_subject']})\n"
        f"\\set volunteer random({volunteers[0]}, {volunteers[1]})\n"
        "\\set nonce random(1, 2000000000)\n" + statement.strip() + ";\n"
    )
    return path


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
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--readme", action="store_true", help="write the README's serving section from the result"
    )
    parser.add_argument(
        "--readme-only", action="store_true", help="only rewrite the README from serving.json"
    )
    parser.add_argument("--machine-note", default="", help="e.g. 'shared with TensorFlow training'")
    arguments = parser.parse_args()
    if arguments.readme_only:
        update_readme()
        return
    load_average_at_start = os.getloadavg()[0]
    sizes = [int(s) for s in arguments.sizes.split(",")]
    client_counts = [int(c) for c in arguments.clients.split(",")]
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / "starling-serving-bench"
    workdir.mkdir(parents=True, exist_ok=True)
    env = stack.environment(workdir)
    stack.use_environment(env)
    stack.recreate_database()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # this benchmark's own database number only
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    projects = {size: fill(size, max(client_counts), workdir) for size in sizes}
    volunteers = stack.pgbench_volunteers()
    port = stack.free_port()
    server = start_gunicorn(
        env, port, arguments.workers, arguments.threads, workdir / "gunicorn.log"
    )
    cells = []
    started = time.time()
    try:
        for size in sizes:
            slug = projects[size]["slug"]
            script = pgbench_script(projects[size], volunteers, workdir / f"{slug}.pgbench.sql")
            cells += stack.measure_size(size, slug, script, client_counts, port, workdir, arguments)
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.Redis.from_url(REDIS_URL).flushdb()  # give the shared Redis its memory back
    result = summarise(cells, sizes, client_counts, projects, arguments)
    result["settings"]["load_average_at_start_and_end"] = [
        load_average_at_start,
        os.getloadavg()[0],
    ]
    result["settings"]["measured_minutes"] = round((time.time() - started) / 60, 1)
    log = (workdir / "gunicorn.log").read_text(errors="replace")
    result["queue_redis_unavailable_warnings"] = log.count("queue: Redis unavailable")
    result["settings"]["queue_redis_timeout_seconds"] = float(
        env["STARLING_QUEUE_REDIS_TIMEOUT_SECONDS"]
    )
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    if arguments.machine_note:
        result["machine_note"] = f"; {arguments.machine_note}"
    plots.serving_cells(
        cells, sizes, client_counts, common.write_result(result, RESULTS, "serving")
    )
    if arguments.readme:
        update_readme()


def cell_lookup(cells: list[dict]):
    """cell(size, clients, endpoint): the measured cell of that project size, client count and
    endpoint ("bare", "next", "submit" or "pgbench")."""
    by_key = {(c["subjects"], c["clients"], c["endpoint"]): c for c in cells}
    return lambda size, clients, endpoint: by_key[(size, clients, endpoint)]


def summarise(cells, sizes, client_counts, projects, arguments) -> dict:
    cell = cell_lookup(cells)

    def ratios(size, clients):
        bare = cell(size, clients, "bare")["per_second"]
        ceiling = min(bare, cell(size, clients, "pgbench")["per_second"])
        return {
            "next_vs_bare": round(cell(size, clients, "next")["per_second"] / bare, 3),
            "submit_vs_ceiling": round(cell(size, clients, "submit")["per_second"] / ceiling, 3),
            "submit_ceiling": "bare" if ceiling == bare else "pgbench",
        }

    largest = max(sizes)
    middle = 32 if 32 in client_counts else client_counts[len(client_counts) // 2]
    headline = {
        **{k: v for k, v in ratios(largest, middle).items() if k != "submit_ceiling"},
        "next_p99_ms_at_32": cell(largest, middle, "next")["p99_ms"],
        "submit_p99_ms_at_32": cell(largest, middle, "submit")["p99_ms"],
        "errors": sum(c["errors"] for c in cells),
        "subjects": largest,
        "clients": middle,
    }
    return {
        "headline": headline,
        "ratios": {
            str(size): {str(clients): ratios(size, clients) for clients in client_counts}
            for size in sizes
        },
        "cells": cells,
        "projects": {str(size): project for size, project in projects.items()},
        "settings": {
            **vars(arguments),
            "gunicorn": f"{arguments.workers} gthread workers x {arguments.threads} threads, "
            "the same server for bare, next and submit",
            "cores": os.cpu_count(),
            "volunteer_history": "each client volunteer already classified the 1,000 highest-priority subjects",
            "next": "GET …/next without count (one subject), from the Redis queue",
            "pgbench": "the submit's own statement (labelling.volunteer.submission.SUBMIT_SQL), prepared as the "
            "app prepares it, a random subject, one of 2,000 volunteers",
        },
        "command": "make bench-serving",
    }


TARGETS = {"next_vs_bare": 0.5, "submit_vs_ceiling": 0.5, "p99_ms": 50.0}


def readme_section(result: dict, when: str) -> str:
    """The README's serving section, every figure taken from `result` (serving.json, which
    records its own date and time: `when`, the file's day, is not needed)."""
    headline, settings = result["headline"], result["settings"]
    cells = result["cells"]
    sizes = sorted({c["subjects"] for c in cells})
    client_counts = sorted({c["clients"] for c in cells})

    cell = cell_lookup(cells)

    met = {
        "next ≥ 0.5x bare": headline["next_vs_bare"] >= TARGETS["next_vs_bare"],
        "submit ≥ 0.5x ceiling": headline["submit_vs_ceiling"] >= TARGETS["submit_vs_ceiling"],
        "next p99 ≤ 50 ms": headline["next_p99_ms_at_32"] <= TARGETS["p99_ms"],
        "submit p99 ≤ 50 ms": headline["submit_p99_ms_at_32"] <= TARGETS["p99_ms"],
        "0 errors": headline["errors"] == 0,
    }
    verdict = ", ".join(f"{name}: {'met' if ok else '**missed**'}" for name, ok in met.items())
    lines = [
        f"### Serving (`make bench-serving`, run of {result['date']}, "
        f"{settings['cores']} cores{result.get('machine_note', '')})",
        "",
        f"At {headline['clients']} clients and {headline['subjects']:,} subjects: next-subject "
        f"**{headline['next_vs_bare']}x** the bare view, submit **{headline['submit_vs_ceiling']}x** "
        "the smaller of the bare view and PostgreSQL's own ceiling for the same statement "
        f"(`pgbench`); p99 next **{headline['next_p99_ms_at_32']} ms**, submit "
        f"**{headline['submit_p99_ms_at_32']} ms**; **{headline['errors']}** errors in all cells. "
        f"Targets — {verdict}.",
        "",
        "| subjects | clients | bare req/s (p99 ms) | next req/s (p99 ms) | submit req/s (p99 ms) "
        "| pgbench tx/s (p99 ms) | next / bare | submit / ceiling | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for clients in client_counts:
            row = {e: cell(size, clients, e) for e in ("bare", "next", "submit", "pgbench")}
            ratios = result["ratios"][str(size)][str(clients)]
            figures = " | ".join(
                f"{row[e]['per_second']:,.0f} ({row[e]['p99_ms']:g})"
                for e in ("bare", "next", "submit", "pgbench")
            )
            errors = sum(row[e]["errors"] for e in row)
            lines.append(
                f"| {size:,} | {clients} | {figures} | {ratios['next_vs_bare']} "
                f"| {ratios['submit_vs_ceiling']} ({ratios['submit_ceiling']}) | {errors} |"
            )
    lines += [
        "",
        "![serving](benchmarks/results/serving.png)",
        "",
        f"{settings['seconds']:g} s per cell after a warm-up; gunicorn {settings['gunicorn']}; "
        f"{settings['volunteer_history']}; {settings['next']}; pgbench runs {settings['pgbench']}. "
        "The queue in Redis (sorted set + image paths): "
        + ", ".join(
            f"{project['queue_redis_megabytes']:g} MB at {int(size):,} subjects "
            f"(built in {project['queue_build_seconds']:g} s)"
            for size, project in sorted(result["projects"].items(), key=lambda item: int(item[0]))
        )
        + f". Redis queue failures logged by the web processes: "
        f"{result.get('queue_redis_unavailable_warnings', 'not counted')} (a reply slower than "
        f"{settings.get('queue_redis_timeout_seconds', 0.25):g} s counts as one; SQL answers then)"
        + ". Load average of the machine at the start and end of the run: "
        + " and ".join(f"{value:.1f}" for value in settings["load_average_at_start_and_end"])
        + ".",
    ]
    return "\n".join(lines)


def update_readme() -> None:
    """The README's serving section from serving.json, as readme_figures writes every section."""
    from benchmarks import readme_figures

    readme_figures.main(only=(README_MARKER,))


if __name__ == "__main__":
    main()
