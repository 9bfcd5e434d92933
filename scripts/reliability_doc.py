"""Write the measured counts of the fault tests into docs/reliability.md.

The fault tests store what they measured in docs/reliability.json when `make docs-figures` runs
them (in test-artifacts/docs/ on any other run); this script renders that file as the table
between the `<!-- fault-results -->` markers, so every number the document quotes comes from a
run. `--check` exits 1 when the document is not what the file gives. `--results` and `--output`
render another results file into another copy of the document (docs/reliability.md's text).

    .venv/bin/python scripts/reliability_doc.py [--check] [--results FILE --output FILE]
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "reliability.json"
DOCUMENT = ROOT / "docs" / "reliability.md"
START, END = "<!-- fault-results -->", "<!-- /fault-results -->"
LABELS = {
    "fault-gunicorn": "gunicorn workers SIGKILLed mid-load",
    "fault-redis": "Redis killed and restarted mid-load",
    "fault-database": "web's PostgreSQL backends terminated mid-load",
    "fault-abandon": "Celery worker SIGKILLed mid-scoring, beat's check alone",
}


def describe(counts: dict) -> str:
    if "seconds_to_close" in counts:
        return f"the round {counts['outcome']} {counts['seconds_to_close']} s after the kill"
    parts = [
        f"{counts['acknowledged']} acknowledged, {counts['acknowledged_and_stored']} of them "
        f"stored once; {counts['failed_requests_retried']} failed requests retried",
    ]
    extras = {
        "workers_killed": "workers killed",
        "acknowledged_during_outage": "acknowledged during the outage",
        "backends_terminated": "backends terminated",
    }
    parts += [f"{counts[key]} {label}" for key, label in extras.items() if key in counts]
    return "; ".join(parts)


def render(results: dict) -> str:
    lines = [
        START,
        "| fault test (`tests/faults`) | measured in its last run | date |",
        "|---|---|---|",
    ]
    for name, counts in results.items():
        lines.append(f"| {LABELS.get(name, name)} | {describe(counts)} | {counts['date']} |")
    lines.append(END)
    return "\n".join(lines)


def updated(document: str, results: dict) -> str:
    if START not in document or END not in document:
        raise ValueError(f"{DOCUMENT}: expected the markers {START} and {END}, found none")
    before, rest = document.split(START, 1)
    after = rest.split(END, 1)[1]
    return before + render(results) + after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; write nothing")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the counts (JSON)")
    parser.add_argument("--output", type=Path, default=DOCUMENT, help="the document to write")
    arguments = parser.parse_args()
    results = json.loads(arguments.results.read_text())
    wanted = updated(DOCUMENT.read_text(), results)
    if arguments.check:
        if not arguments.output.exists() or wanted != arguments.output.read_text():
            print(f"{arguments.output} is out of date with {arguments.results}: run {__file__}")
            return 1
        return 0
    arguments.output.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
