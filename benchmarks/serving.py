"""Serving speed: classification submits and next-subject, against a bare Django view, same server, same run.

gunicorn (one configuration for all endpoints) + PostgreSQL + Redis on 127.0.0.1 with projects of
10,000 and 1,000,000 subjects, where every load client is a volunteer who has already classified
1,000 subjects (the 1,000 highest-priority ones: the worst case for next-subject, which must skip
them). The queue is built in Redis after the fill, as `select_round` does after a round. The load
generator (benchmarks/loadgen.py, asyncio, keep-alive) runs in its own process, bounded in time.
The database's own ceiling for the submit's writes is measured with `pgbench` running the very
statement `classification_submit` sends, at the same client counts.

Then, on the largest project and the same server:
- CPU per request in the web processes: rounds of bare, next and submit at 32 clients, each cell's
  CPU seconds read from the workers' own counters (loadgen.py --cpu-pids), divided by its requests;
- open-loop load (openloop.py): classifications arriving at 300 a second for 60 s, latency counted
  from when each request was due, then rising rates until one no longer holds p99 ≤ 100 ms;
- where the CPU goes: py-spy over the workers under each endpoint's load (serving_profile.py);
- the same three cells on granian, a WSGI server written in Rust, with as many workers and threads.

The stack and its load are in serving_stack.py, the headline and the README section in
serving_summary.py.

    .venv/bin/python -m benchmarks.serving [--seconds 6] [--sizes 10000,1000000] [--clients 8,32,64]
        [--output serving_before]   # the code before a change, shown beside it in the README
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import plots, runs
from benchmarks import serving_stack as stack
from benchmarks.serving_stack import REDIS_URL, ROOT
from benchmarks.serving_summary import (
    P99_LIMIT_MS,
    README_MARKER,
    holds,
    middle_clients,
    summarise,
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
            " after_retirement, requested_by_model, created_at) FROM STDIN"
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
                        False,
                        now,
                    )
                )
    with connection.cursor() as cursor:
        # Vacuumed now rather than by autovacuum in the middle of a measured cell.
        cursor.execute("VACUUM (ANALYZE) labelling_subject")
        cursor.execute("VACUUM (ANALYZE) labelling_classification")
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
    """The submit's statement (labelling.volunteer.submission.submit_statement) with pgbench
    variables."""
    from labelling.volunteer.submission import submit_statement

    statement = submit_statement(1)  # one answered question, smooth-or-featured = smooth
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--clients", default="8,32,64")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) + 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--open-loop-rate", type=float, default=300, help="classifications/s")
    parser.add_argument("--open-loop-seconds", type=float, default=60)
    parser.add_argument("--search-rates", default="100,200,300,400,500,600,700,800,900,1000")
    parser.add_argument(
        "--cpu-rounds",
        type=int,
        default=3,
        help="rounds of bare, next and submit at 32 clients on the largest project, one after "
        "another; the headline's CPU per request is each endpoint's median",
    )
    parser.add_argument("--search-seconds", type=float, default=20)
    parser.add_argument("--profile-seconds", type=float, default=8)
    parser.add_argument(
        "--output",
        default="serving",
        help="result name: serving.json, or serving_before.json for the code before a change",
    )
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
    server = stack.start_gunicorn(
        env, port, arguments.workers, arguments.threads, workdir / "gunicorn.log"
    )
    cpu_pids = stack.worker_pids(server.pid, arguments.workers)
    cells = []
    started = time.time()
    try:
        for size in sizes:
            slug = projects[size]["slug"]
            script = pgbench_script(projects[size], volunteers, workdir / f"{slug}.pgbench.sql")
            cells += stack.measure_size(
                size, slug, script, client_counts, port, workdir, arguments, cpu_pids
            )
        slug = projects[max(sizes)]["slug"]
        middle = middle_clients(client_counts)
        cpu_rounds = [
            {"endpoint": endpoint}
            | stack.load(port, path, middle, arguments.seconds, workdir, slug, post, cpu_pids)
            for _ in range(arguments.cpu_rounds)
            for endpoint, path, post in stack.endpoints(slug)
        ]
        open_loop = open_loop_runs(port, slug, workdir, cpu_pids, arguments)
        profiles = stack.profiles(
            port, slug, middle, arguments.profile_seconds, workdir, server.pid
        )
        server.terminate()
        server.wait(timeout=30)
        server = stack.start_granian(env, port, arguments.workers, arguments.threads, workdir)
        granian_pids = stack.worker_pids(server.pid, arguments.workers)
        granian = [
            {"server": "granian", "subjects": max(sizes), "clients": middle, "endpoint": endpoint}
            | stack.load(port, path, middle, arguments.seconds, workdir, slug, post, granian_pids)
            for endpoint, path, post in stack.endpoints(slug)
        ]
        print(json.dumps({"granian": granian}), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.Redis.from_url(REDIS_URL).flushdb()  # give the shared Redis its memory back
    result = summarise(cells, sizes, client_counts, projects, arguments, open_loop, cpu_rounds)
    result["profiles"] = profiles
    result["granian"] = granian
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
    plot = runs.write_result(result, runs.RESULTS, arguments.output)
    plots.serving_cells(cells, sizes, client_counts, plot)
    plots.serving_open_loop(open_loop, P99_LIMIT_MS, plot.with_name(f"{plot.stem}_open_loop.png"))
    if arguments.readme:
        update_readme()


def open_loop_runs(port, slug, workdir, cpu_pids, arguments) -> dict:
    """The target rate for --open-loop-seconds, then rising rates (--search-seconds each) until
    one does not hold: {"target": run, "search": [runs]}."""
    target = stack.open_loop(
        port, slug, arguments.open_loop_rate, arguments.open_loop_seconds, workdir, cpu_pids
    )
    print(json.dumps({"open_loop": target}), flush=True)
    search = []
    for rate in [int(r) for r in arguments.search_rates.split(",")]:
        search.append(
            stack.open_loop(port, slug, rate, arguments.search_seconds, workdir, cpu_pids)
        )
        print(json.dumps({"open_loop": search[-1]}), flush=True)
        if not holds(search[-1]):
            break
    return {"target": target, "search": search}


def update_readme() -> None:
    """The README's serving section from serving.json, as readme_figures writes every section."""
    from benchmarks import readme_figures

    readme_figures.main(only=(README_MARKER,))


if __name__ == "__main__":
    main()
