"""Open-loop load: volunteers' classifications arriving at a constant rate, run as its own process.

    python -m benchmarks.openloop --port P --slug S --rate 300 --seconds 60 \\
        --cookies-file F --subjects F --cursor-file F [--cpu-pids 1,2,3]

Classification i is due at start + i / rate, whatever the server is doing: it is one submit (POST
…/classifications) and, for every third classification of each volunteer, one `GET …/next?count=3`
due at the same moment (a volunteer's page fetches three subjects at a time). Each request's latency
is measured from when it was due, not from when a connection became free, so a server that falls
behind shows its queue in the figures (the closed-loop generator, loadgen.py, cannot show that).

Volunteers take turns (classification i is volunteer i mod V's, V the lines of --cookies-file) and
walk --subjects from their own cursors, kept in --cursor-file as loadgen.py keeps them, so no
volunteer is sent a subject twice. Requests go over a pool of keep-alive connections, a new one
opened when none is free. A warm-up at the same rate (--warmup seconds) comes first and is not
counted. Prints one JSON line: per endpoint the answered requests, errors and p50/p99 latency, the
achieved classifications a second, how late the generator itself sent requests, and with --cpu-pids
the web processes' CPU seconds in the counted window.
"""

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

from benchmarks.loadgen import (
    cpu_figures,
    cpu_seconds,
    exchange,
    get_request,
    percentile_ms,
    post_request,
    take_subject,
)


@dataclass
class Tally:
    latencies: list = field(default_factory=list)
    errors: int = 0
    statuses: dict = field(default_factory=dict)

    def record(self, latency: float, status: int) -> None:
        self.latencies.append(latency)
        if not 200 <= status < 300:
            self.errors += 1
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        return {
            "requests": len(ordered),
            "errors": self.errors,
            "error_statuses": self.statuses,
            "p50_ms": percentile_ms(ordered, 0.5),
            "p99_ms": percentile_ms(ordered, 0.99),
        }


class Pool:
    """Keep-alive connections to the server: the most recently freed one if any, else a new one.
    As HTTP clients do, a connection idle for longer than `idle_seconds` is closed rather than
    used (the server may be closing it at that moment: gunicorn's keep-alive here is 30 s)."""

    def __init__(self, port: int, idle_seconds: float = 15.0):
        self.port, self.idle_seconds = port, idle_seconds
        self.idle: list = []
        self.opened = 0

    async def take(self):
        while self.idle:
            reader, writer, freed_at = self.idle.pop()
            if time.perf_counter() - freed_at < self.idle_seconds:
                return reader, writer
            writer.close()
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    def give_back(self, connection) -> None:
        self.idle.append((*connection, time.perf_counter()))


def requests_for(arguments, cookies, subjects, cursors):
    """[(due offset in seconds, endpoint, request bytes, counted)] for the warm-up and the run."""
    submit_path = f"/api/projects/{arguments.slug}/classifications"
    next_path = f"/api/projects/{arguments.slug}/next?count=3"
    total = int(round(arguments.rate * (arguments.warmup + arguments.seconds)))
    warm = int(round(arguments.rate * arguments.warmup))
    planned = []
    for index in range(total):
        volunteer = index % len(cookies)
        session, csrf = cookies[volunteer]
        due, counted = index / arguments.rate, index >= warm
        if (index // len(cookies)) % 3 == 0:
            planned.append((due, "next", get_request(next_path, session, csrf), counted))
        body = json.dumps(
            {
                "subject": take_subject(cursors, volunteer, subjects),
                "answers": {"smooth-or-featured": "smooth"},
                "idempotency_key": uuid.uuid4().hex,
            }
        ).encode()
        planned.append((due, "submit", post_request(submit_path, body, session, csrf), counted))
    return planned


async def send(pool, request, due_at, tally, finished_at, sent_late):
    """Send `request` (due at `due_at`) on a pooled connection; record its latency from then in
    `tally`, when it finished in `finished_at`, how late it was sent in `sent_late`."""
    sent_late.append(time.perf_counter() - due_at)
    reader, writer = await pool.take()
    try:
        status, close = await exchange(reader, writer, request)
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        status, close = 0, True
    finished = time.perf_counter()
    if tally is not None:
        tally.record(finished - due_at, status)
        finished_at.append(finished)
    if close:
        writer.close()
    else:
        pool.give_back((reader, writer))


async def run(arguments) -> dict:
    cookies = [line.split() for line in open(arguments.cookies_file).read().splitlines()]
    subjects = [int(x) for x in open(arguments.subjects).read().split()]
    try:
        cursors = json.loads(open(arguments.cursor_file).read())
    except FileNotFoundError:
        cursors = {}
    planned = requests_for(arguments, cookies, subjects, cursors)
    with open(arguments.cursor_file, "w") as stream:
        stream.write(json.dumps(cursors))
    pids = [int(pid) for pid in arguments.cpu_pids.split(",")] if arguments.cpu_pids else []
    pool = Pool(arguments.port)
    tallies = {"submit": Tally(), "next": Tally()}
    submits_finished, late, tasks = [], [], []
    start = time.perf_counter() + 0.1
    counted_from, cpu_at_start = start + arguments.warmup, None
    for offset, endpoint, request, counted in planned:
        due_at = start + offset
        delay = due_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if counted and cpu_at_start is None:
            cpu_at_start = cpu_seconds(pids)
        tally = tallies[endpoint] if counted else None
        finished_at = submits_finished if (counted and endpoint == "submit") else []
        tasks.append(
            asyncio.create_task(
                send(pool, request, due_at, tally, finished_at, late if counted else [])
            )
        )
    done, pending = await asyncio.wait(tasks, timeout=arguments.drain_seconds)
    for task in pending:  # never answered: an error, as late as the wait allowed
        task.cancel()
    cpu_used = cpu_seconds(pids) - (cpu_at_start or 0.0)
    counted_submits = tallies["submit"]
    ok_submits = len(counted_submits.latencies) - counted_submits.errors
    span = (max(submits_finished) if submits_finished else time.perf_counter()) - counted_from
    answered = sum(len(t.latencies) for t in tallies.values())
    late.sort()
    return {
        "rate": arguments.rate,
        "seconds": arguments.seconds,
        "submit": counted_submits.summary(),
        "next": tallies["next"].summary(),
        "unanswered": len(pending),
        "errors": counted_submits.errors + tallies["next"].errors + len(pending),
        "achieved_per_s": round(ok_submits / span, 1) if span > 0 else None,
        "generator_late_p99_ms": percentile_ms(late, 0.99),
        "connections_opened": pool.opened,
        **(cpu_figures(cpu_used, answered) if pids else {}),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slug", required=True)
    parser.add_argument("--rate", type=float, required=True, help="classifications a second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--drain-seconds", type=float, default=30)
    parser.add_argument("--cookies-file", required=True)
    parser.add_argument("--subjects", required=True)
    parser.add_argument("--cursor-file", required=True)
    parser.add_argument("--cpu-pids")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
