"""Write the README's benchmark sections from their result files: each benchmark owns its
section (a module with `README_MARKER` and `readme_section(result, date, **other results it
reads)`: the benchmark itself, or its `<benchmark>_summary` or `_readme` beside it), this
loops over them.

The figures in the README come from the result files, never by hand:

    .venv/bin/python -m benchmarks.readme_figures   # (every make bench-* target whose
                                                    #  result it reads runs it)
"""

import datetime
import json
import subprocess
import sys
from pathlib import Path

from benchmarks import (
    active_learning_readme,
    first_model_minimum,
    first_round,
    levers_summary,
    mc_scoring,
    retirement_summary,
    runs,
    serving_summary,
    survey_summary,
    transfer,
    volunteers_summary,
)

ROOT = runs.ROOT
# (the module that writes a section, its result file, the other result files it reads)
SECTIONS = (
    (survey_summary, "survey", ()),
    (
        active_learning_readme,
        "active_learning",
        ("active_learning_cells", "active_learning_tissue"),
    ),
    (first_round, "first_round", ("active_learning",)),
    (first_model_minimum, "first_model_minimum", ()),
    (retirement_summary, "retirement", ()),
    (volunteers_summary, "volunteers", ()),
    (transfer, "transfer", ()),
    (levers_summary, "levers", ("levers_more", "levers_consistency", "levers_views")),
    (mc_scoring, "mc_scoring", ("round_time", "pool_scale", "scoring_cost")),
    (serving_summary, "serving", ("serving_before",)),
)
# Other result files a section shows when they are there (it is written without them).
OPTIONAL = {
    "active_learning_cells",
    "active_learning_tissue",
    "levers_more",
    "levers_consistency",
    "levers_views",
    "scoring_cost",
    "serving_before",
}
RESULT_FILES = {
    name: runs.RESULTS / f"{name}.json" for _, own, others in SECTIONS for name in (own, *others)
}


def fill(readme: Path, marker: str, text: str) -> None:
    """Put `text` between the README's <!-- marker --> and <!-- /marker --> lines."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    content = readme.read_text()
    if start not in content or end not in content:
        sys.exit(f"{readme} has no {start} ... {end} markers to fill")
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(f"{before}{start}\n{text}\n{end}{after}")


def run_date(path: Path) -> str:
    """The day the result was made: its file's time while it is new or changed, else the day it
    was committed (a fresh clone's files all carry the clone's time)."""

    def git(*arguments) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    committed = git("log", "-1", "--format=%cs", "--", str(path))
    if committed and not git("status", "--porcelain", "--", str(path)):
        return committed
    return datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()


def main(readme: Path = ROOT / "README.md", results: dict | None = None, only=None) -> None:
    """Every section (or those whose markers are in `only`) whose result files exist.
    results: {result name: path}, RESULT_FILES by default; a name left out is missing."""
    results = RESULT_FILES if results is None else results
    for script, own, others in SECTIONS:
        present = [name for name in (own, *others) if results.get(name) and results[name].exists()]
        needed = {own, *others} - OPTIONAL
        if (only and script.README_MARKER not in only) or not needed <= set(present):
            continue
        paths = [results[name] for name in present]
        loaded = {
            name: (json.loads(results[name].read_text()), run_date(results[name]))
            for name in present
        }
        text = script.readme_section(*loaded.pop(own), **loaded)
        fill(readme, script.README_MARKER, text)
        print(f"README: section {script.README_MARKER} written from " + ", ".join(map(str, paths)))


if __name__ == "__main__":
    main()
