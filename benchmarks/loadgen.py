"""A small asyncio HTTP/1.1 load generator with keep-alive, run as its own process.

    python -m benchmarks.loadgen --port P --path /bare --clients 32 --seconds 10 [--post-json TEMPLATE]

Prints one JSON line: requests, errors, requests/s, p50/p99 latency in ms, and with --cpu-pids the
CPU seconds those processes (the web server's workers) spent in the measured window, per request. For POSTs the body
template's {key} and {subject} are filled per request (a fresh idempotency key, the next subject
from --subjects) and each client sends its own cookies (--cookies-file, one "sessionid csrftoken" a line).
Client i is the volunteer of cookie line i and walks --subjects from its own cursor, kept in
--cursor-file across runs, so that no volunteer is ever sent a subject twice (a 409 would count as
an error); running out of subjects is an error before the run, not a wrap.
"""

import argparse
import asyncio
import json
import os
import time
import uuid


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes `pids` have used so far (from /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stream:
            # Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
            fields = stream.read().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile_ms(ordered: list[float], share: float) -> float | None:
    """The `share` percentile of sorted latencies in seconds, in ms (None when there are none)."""
    if not ordered:
        return None
    return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def cpu_figures(cpu_used: float, answered: int) -> dict:
    """The web processes' CPU seconds over a window and per request answered in it."""
    return {
        "server_cpu_seconds": round(cpu_used, 2),
        "server_cpu_ms_per_request": round(1000 * cpu_used / answered, 3) if answered else None,
    }


def take_subject(cursors: dict, volunteer: int, subjects: list[int]) -> int:
    """The volunteer's next subject from its own cursor (advanced): never one sent before."""
    position = cursors.get(str(volunteer), 0)
    if position >= len(subjects):
        raise SystemExit(f"volunteer {volunteer} ran out of subjects: give more")
    cursors[str(volunteer)] = position + 1
    return subjects[position]


def get_request(path: str, session: str = "", csrf: str = "") -> bytes:
    cookie = f"Cookie: sessionid={session}; csrftoken={csrf}\r\n" if session else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n".encode()


def post_request(path: str, body: bytes, session: str, csrf: str) -> bytes:
    """A JSON POST as the classify page sends it: the session cookie and the CSRF header."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCookie: sessionid={session}; csrftoken={csrf}\r\n"
        f"X-CSRFToken: {csrf}\r\n\r\n"
    )
    return head.encode() + body


async def one_client(index, arguments, cookies, subjects, latencies, counters, deadline, cursors):
    reader, writer = await asyncio.open_connection("127.0.0.1", arguments.port)
    session, csrf = cookies[index] if cookies else ("", "")
    try:
        while time.perf_counter() < deadline:
            if arguments.post_json:
                body = (
                    arguments.post_json.replace("{key}", uuid.uuid4().hex)
                    .replace("{subject}", str(take_subject(cursors, index, subjects)))
                    .encode()
                )
                request = post_request(arguments.path, body, session, csrf)
            else:
                request = get_request(arguments.path, session, csrf)
            started = time.perf_counter()
            try:
                status, close = await exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status, close = 0, True
            latencies.append(time.perf_counter() - started)
            counters["ok" if 200 <= status < 300 else "errors"] += 1
            if status >= 300 or status == 0:
                counters.setdefault("statuses", {})
                counters["statuses"][str(status)] = counters["statuses"].get(str(status), 0) + 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", arguments.port)
    finally:
        writer.close()


async def exchange(reader, writer, request) -> tuple[int, bool]:
    """Send one request, read its response; (status, whether the server closes the connection)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    length, close = 0, not status_line
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        if name.lower() == "connection" and "close" in value.lower():
            close = True
    await reader.readexactly(length)
    return (int(status_line.split()[1]) if status_line else 0), close


async def run(arguments):
    cookies = (
        [line.split() for line in open(arguments.cookies_file).read().splitlines()]
        if arguments.cookies_file
        else []
    )
    subjects = (
        [int(x) for x in open(arguments.subjects).read().split()] if arguments.subjects else [0]
    )
    if cookies and arguments.clients > len(cookies):
        raise SystemExit(f"{arguments.clients} clients but only {len(cookies)} volunteers' cookies")
    cursors = {}
    if arguments.cursor_file:
        try:
            cursors = json.loads(open(arguments.cursor_file).read())
        except FileNotFoundError:
            cursors = {}
    latencies, counters = [], {"ok": 0, "errors": 0}
    warm_deadline = time.perf_counter() + arguments.warmup
    await asyncio.gather(
        *[
            one_client(
                i,
                arguments,
                cookies,
                subjects,
                [],
                {"ok": 0, "errors": 0},
                warm_deadline,
                cursors,
            )
            for i in range(arguments.clients)
        ]
    )
    pids = [int(pid) for pid in arguments.cpu_pids.split(",")] if arguments.cpu_pids else []
    cpu_at_start = cpu_seconds(pids)  # no request is in flight between the two gathers
    started = time.perf_counter()
    deadline = started + arguments.seconds
    await asyncio.gather(
        *[
            one_client(
                i,
                arguments,
                cookies,
                subjects,
                latencies,
                counters,
                deadline,
                cursors,
            )
            for i in range(arguments.clients)
        ]
    )
    elapsed = time.perf_counter() - started
    cpu_used = cpu_seconds(pids) - cpu_at_start  # every counted request has been answered
    if arguments.cursor_file:
        with open(arguments.cursor_file, "w") as stream:
            stream.write(json.dumps(cursors))
    latencies.sort()
    answered = counters["ok"] + counters["errors"]
    return {
        "requests": counters["ok"],
        "errors": counters["errors"],
        "error_statuses": counters.get("statuses", {}),
        "per_second": round(counters["ok"] / elapsed, 1),
        "p50_ms": percentile_ms(latencies, 0.5),
        "p99_ms": percentile_ms(latencies, 0.99),
        **(cpu_figures(cpu_used, answered) if pids else {}),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--post-json")
    parser.add_argument("--cookies-file")
    parser.add_argument("--subjects")
    parser.add_argument(
        "--cursor-file", help="JSON {client: next position in --subjects}, read and written back"
    )
    parser.add_argument(
        "--cpu-pids", help="comma-separated pids whose CPU time the measured window costs"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
