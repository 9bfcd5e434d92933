"""The serving benchmark's figures: its headline from the measured cells, CPU rounds and open-loop
runs, and the README's serving section (and its row of the speed table), every figure from
serving.json (and serving_before.json, the same benchmark on the code before the cuts)."""

import os
import statistics

README_MARKER = "serving"
P99_LIMIT_MS = 100.0  # an open-loop rate holds when both endpoints' p99 stays under this
# This benchmark's row of the README's speed table (mc_scoring.readme_section).
SPEED_ROW = (
    "| serving, gunicorn + PostgreSQL + Redis | `make bench-serving` | next-subject and submit "
    "against a bare Django view and `pgbench`, 8/32/64 clients, 10,000 and 1,000,000 "
    'subjects: see "Serving" below the table |'
)


def middle_clients(client_counts: list[int]) -> int:
    """The client count the headline is read at: 32 when measured."""
    return 32 if 32 in client_counts else client_counts[len(client_counts) // 2]


def holds(run: dict) -> bool:
    """An open-loop run the server kept up with: p99 ≤ 100 ms for both endpoints, no error, and
    the achieved rate within 2% of the target."""
    return (
        run["errors"] == 0
        and max(run["submit"]["p99_ms"] or 1e9, run["next"]["p99_ms"] or 1e9) <= P99_LIMIT_MS
        and run["achieved_per_s"] >= 0.98 * run["rate"]
    )


def cell_lookup(cells: list[dict]):
    """cell(size, clients, endpoint): the measured cell of that project size, client count and
    endpoint ("bare", "next", "submit" or "pgbench")."""
    by_key = {(c["subjects"], c["clients"], c["endpoint"]): c for c in cells}
    return lambda size, clients, endpoint: by_key[(size, clients, endpoint)]


def summarise(cells, sizes, client_counts, projects, arguments, open_loop, cpu_rounds) -> dict:
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
    middle = middle_clients(client_counts)
    headline = {
        **{k: v for k, v in ratios(largest, middle).items() if k != "submit_ceiling"},
        "next_p99_ms_at_32": cell(largest, middle, "next")["p99_ms"],
        "submit_p99_ms_at_32": cell(largest, middle, "submit")["p99_ms"],
        "errors": sum(c["errors"] for c in cells),
        "subjects": largest,
        "clients": middle,
        **{
            f"{endpoint}_cpu_ms": statistics.median(
                run["server_cpu_ms_per_request"]
                for run in cpu_rounds
                if run["endpoint"] == endpoint
            )
            for endpoint in ("submit", "next", "bare")
        },
        "open_loop_300": {
            "p50_ms": max(open_loop["target"][e]["p50_ms"] for e in ("submit", "next")),
            "p99_ms": max(open_loop["target"][e]["p99_ms"] for e in ("submit", "next")),
            "errors": open_loop["target"]["errors"],
            "achieved_per_s": open_loop["target"]["achieved_per_s"],
        },
        "max_rate_p99_100": max(
            (run["rate"] for run in [open_loop["target"], *open_loop["search"]] if holds(run)),
            default=0,
        ),
    }
    return {
        "headline": headline,
        "cpu_rounds": cpu_rounds,
        "open_loop": open_loop,
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
# Web-process CPU per request against the bare view's (issue 27).
CPU_TARGETS = {"next": 1.3, "submit": 2.0}
# What the profile led to, shown under it in the README.
CUTS = (
    'Cut after the first profile ("before" above: the same benchmark on the code before): '
    "django-csp built the pages' policy from its settings for every JSON answer, and Django's "
    "messages set up their storage for every API request; under /api/ the policy is now a constant "
    "that allows nothing and messages are skipped (starling/middleware.py). Each web process "
    "remembers the session cookies it verified for a minute instead of checking the signature on "
    "every request (starling/sessions.py). After those, most of next's and submit's CPU was still "
    "Django's request handling (request and response objects, URL resolver, middleware chain), so "
    "the two endpoints are now answered in front of Django's handler for a client in the steady "
    "state (starling/api_fastpath.py): the same functions as the views, with the host, session, "
    "CSRF and security headers done as Django's middleware does them and tested against Django's "
    "own answers; anything else is Django's. Tried and not kept: hiredis for the Redis replies, a "
    "hand-written Redis command packer (no change beyond noise in-process), orjson (encoding the "
    "answer is a few microseconds of a request, measured in-process) and leaving the rate "
    "limit's Redis round trip out altogether, the most folding it into the queue's round trip "
    "could save (no change beyond noise)."
)


def round_ratios(result: dict, endpoint: str) -> list[float]:
    """Each CPU round's `endpoint` per request over the same round's bare view."""
    cpu = {}
    for run in result["cpu_rounds"]:
        cpu.setdefault(run["endpoint"], []).append(run["server_cpu_ms_per_request"])
    return [own / bare for own, bare in zip(cpu[endpoint], cpu["bare"], strict=True)]


def cpu_and_load_lines(result: dict, before: dict | None) -> list[str]:
    """The README's CPU-per-request, open-loop and profile parts, from serving.json (and
    serving_before.json, the same benchmark on the code before the cuts, when present)."""
    headline = result["headline"]
    bare = headline["bare_cpu_ms"]
    granian = {cell["endpoint"]: cell for cell in result.get("granian", [])}
    before_headline = before[0]["headline"] if before else {}
    lines = [
        "",
        f"#### CPU per request in the web processes ({headline['clients']} clients, "
        f"{headline['subjects']:,} subjects)",
        "",
        "From the worker processes' own CPU counters (`/proc/<pid>/stat`) over each measured "
        "window, divided by the requests answered; each endpoint's median of "
        f"{len(result['cpu_rounds']) // 3} rounds of bare, next and submit in turn "
        f"({result['settings']['seconds']:g} s each; "
        + "; ".join(
            f"{endpoint} "
            + ", ".join(
                f"{run['server_cpu_ms_per_request']:.3f}"
                for run in result["cpu_rounds"]
                if run["endpoint"] == endpoint
            )
            for endpoint in ("bare", "next", "submit")
        )
        + " ms). Each round's own ratio to its bare view: "
        + "; ".join(
            f"{endpoint} " + ", ".join(f"{ratio:.2f}x" for ratio in round_ratios(result, endpoint))
            for endpoint in ("next", "submit")
        )
        + ".",
        "",
        "| endpoint | gunicorn ms (× bare) | target | before the cuts ms (× bare) "
        "| granian, same workers and threads, ms (× bare) |",
        "|---|---|---|---|---|",
    ]
    for endpoint in ("bare", "next", "submit"):
        own = headline[f"{endpoint}_cpu_ms"]
        target = CPU_TARGETS.get(endpoint)
        verdict = (
            "—"
            if target is None
            else f"≤ {target:g}x: {'met' if own <= target * bare else '**missed**'}"
        )
        old = before_headline.get(f"{endpoint}_cpu_ms")
        old_text = (
            f"{old:.3f} ({old / before_headline['bare_cpu_ms']:.2f}x)" if old is not None else "—"
        )
        other = granian.get(endpoint, {}).get("server_cpu_ms_per_request")
        other_text = (
            f"{other:.3f} ({other / granian['bare']['server_cpu_ms_per_request']:.2f}x)"
            if other is not None
            else "—"
        )
        lines.append(
            f"| {endpoint} | {own:.3f} ({own / bare:.2f}x) | {verdict} | {old_text} | {other_text} |"
        )
    if granian:
        lines += [
            "",
            "granian's requests/s at the same cells: "
            + ", ".join(f"{name} {cell['per_second']:,.0f}" for name, cell in granian.items())
            + ".",
        ]
    open_loop, target = result["open_loop"], headline["open_loop_300"]
    lines += [
        "",
        "#### Open loop: volunteers arriving at a constant rate (gunicorn, the same server)",
        "",
        f"Each classification is a submit, and every third of a volunteer's also a "
        f"`next?count=3`; latency is counted from when each request was due. At "
        f"**{open_loop['target']['rate']:g} classifications/s for "
        f"{open_loop['target']['seconds']:g} s**: p50 **{target['p50_ms']} ms**, p99 "
        f"**{target['p99_ms']} ms** (the worse of the two endpoints), **{target['errors']}** "
        f"errors, **{target['achieved_per_s']}/s** achieved. The highest rate tried whose p99 "
        f"stayed ≤ {P99_LIMIT_MS:g} ms with no error and the rate achieved within 2%: "
        f"**{headline['max_rate_p99_100']:g}/s**.",
        "",
        "![serving, open loop](benchmarks/results/serving_open_loop.png)",
        "",
        "| rate /s | seconds | submit p50 / p99 ms | next p50 / p99 ms | errors | achieved /s "
        "| web CPU ms per request | holds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in [open_loop["target"], *open_loop["search"]]:
        lines.append(
            f"| {run['rate']:g} | {run['seconds']:g} | {run['submit']['p50_ms']} / "
            f"{run['submit']['p99_ms']} | {run['next']['p50_ms']} / {run['next']['p99_ms']} "
            f"| {run['errors']} | {run['achieved_per_s']} | "
            f"{run.get('server_cpu_ms_per_request', '—')} | {'yes' if holds(run) else 'no'} |"
        )
    profiles = result.get("profiles", {})
    if profiles:
        old_profiles = before[0].get("profiles", {}) if before else {}
        columns = [(name, profiles[name]) for name in profiles]
        columns += [(f"{name}, before", old_profiles[name]) for name in old_profiles]
        layers = list(dict.fromkeys(k for _, p in columns for k in p["layers_percent"]))
        lines += [
            "",
            "#### Where the web processes' CPU goes (py-spy `--gil`, "
            f"{headline['clients']} clients, percent of samples)",
            "",
            "| layer | " + " | ".join(name for name, _ in columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for layer in layers:
            lines.append(
                f"| {layer} | "
                + " | ".join(f"{p['layers_percent'].get(layer, 0):g}" for _, p in columns)
                + " |"
            )
        lines += [
            "| samples | " + " | ".join(f"{p['samples']:,}" for _, p in columns) + " |",
            "",
            CUTS,
        ]
    return lines


def readme_section(result: dict, when: str, serving_before: tuple | None = None) -> str:
    """The README's serving section, every figure taken from `result` (serving.json, which
    records its own date and time: `when`, the file's day, is not needed); `serving_before`:
    (serving_before.json, its day), the same benchmark on the code before the cuts."""
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
    if "open_loop" in result:
        lines += cpu_and_load_lines(result, serving_before)
    return "\n".join(lines)
