"""A small asyncio HTTP/1.1 load generator with keep-alive, run as its own process.

    python benchmarks/loadgen.py --port P --path /bare --clients 32 --seconds 10 [--post-json TEMPLATE]

Prints one JSON line: requests, errors, requests/s, p50/p99 latency in ms. For POSTs the body
template's {key} and {subject} are filled per request (a fresh idempotency key, the next subject
from --subjects) and each client sends its own cookies (--cookies-file, one "sessionid csrftoken" a line).
"""

import argparse
import asyncio
import json
import time
import uuid


async def one_client(index, arguments, cookies, subjects, latencies, counters, deadline, offset=0):
    reader, writer = await asyncio.open_connection("127.0.0.1", arguments.port)
    session, csrf = cookies[index % len(cookies)] if cookies else ("", "")
    position = index + offset  # warm-up and measurement submit disjoint subjects
    try:
        while time.perf_counter() < deadline:
            if arguments.post_json:
                subject = subjects[position % len(subjects)]
                position += arguments.clients
                body = (
                    arguments.post_json.replace("{key}", uuid.uuid4().hex)
                    .replace("{subject}", str(subject))
                    .encode()
                )
                head = (
                    f"POST {arguments.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nCookie: sessionid={session}; csrftoken={csrf}\r\n"
                    f"X-CSRFToken: {csrf}\r\n\r\n"
                ).encode()
                request = head + body
            else:
                cookie = f"Cookie: sessionid={session}; csrftoken={csrf}\r\n" if session else ""
                request = (
                    f"GET {arguments.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n".encode()
                )
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length, close = 0, False
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
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1]) if status_line else 0
            counters["ok" if 200 <= status < 300 else "errors"] += 1
            if close or not status_line:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", arguments.port)
    finally:
        writer.close()


async def run(arguments):
    cookies = (
        [line.split() for line in open(arguments.cookies_file).read().splitlines()]
        if arguments.cookies_file
        else []
    )
    subjects = (
        [int(x) for x in open(arguments.subjects).read().split()] if arguments.subjects else [0]
    )
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
                offset=arguments.offset,
            )
            for i in range(arguments.clients)
        ]
    )
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
                offset=arguments.offset + 2500,
            )
            for i in range(arguments.clients)
        ]
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(share):
        return (
            round(1000 * latencies[min(len(latencies) - 1, int(share * len(latencies)))], 2)
            if latencies
            else None
        )

    return {
        "requests": counters["ok"],
        "errors": counters["errors"],
        "per_second": round(counters["ok"] / elapsed, 1),
        "p50_ms": percentile(0.5),
        "p99_ms": percentile(0.99),
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
        "--offset", type=int, default=0, help="first position in --subjects (one range per run)"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
