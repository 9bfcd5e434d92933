"""Where a benchmark's result goes: <results dir>/<output>.json, its plot beside it as .png."""

import json
import sys
from pathlib import Path


def command(script: str, argv) -> str:
    """The command line that made a result, for its `command` field."""
    return " ".join([f"benchmarks/{script}", *(argv or sys.argv[1:])])


def write_result(result: dict, results_dir: Path, output: str) -> Path:
    """Write the result (with its top-level `headline`), print the headline; return the path the
    plot goes to."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{output}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["headline"], indent=2))
    return results_dir / f"{output}.png"
