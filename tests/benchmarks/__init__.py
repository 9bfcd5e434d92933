"""Helpers for the benchmark tests: write a README section from a result file into a scratch
README, and a benchmark module's tiny run shared by the tests of a module."""

import importlib
from pathlib import Path

import pytest

from benchmarks import readme_figures

ROOT = Path(__file__).resolve().parents[2]


def readme_section(tmp_path: Path, marker: str, **result_paths) -> str:
    """A README holding a stale `marker` section, rewritten by benchmarks/readme_figures.py from
    the active-learning result in the repository and `result_paths` ({result name: path}, e.g.
    retirement=...; the others missing). Returns the new text, checked to keep what surrounds
    the sections."""
    readme = tmp_path / "README.md"
    readme.write_text(
        "a\n<!-- active-learning -->\n<!-- /active-learning -->\n"
        f"<!-- {marker} -->\nstale\n<!-- /{marker} -->\nz\n"
    )
    active_learning = ROOT / "benchmarks" / "results" / "active_learning.json"
    readme_figures.main(readme, {"active_learning": active_learning, **result_paths})
    text = readme.read_text()
    assert "stale" not in text and text.startswith("a\n") and text.endswith("z\n")
    return text


def run_tiny(benchmark, arguments: list[str], tmp_path_factory) -> tuple[dict, Path]:
    """`benchmark.main(arguments)` writing tiny.json and tiny.png into a fresh folder."""
    folder = tmp_path_factory.mktemp("tiny")
    return benchmark.main([*arguments, "--results-dir", str(folder), "--output", "tiny"]), folder


def benchmark_fixtures(name: str, tiny_arguments: list[str]):
    """A benchmark test module's two module fixtures: `benchmark` (benchmarks.<name>) and `tiny`
    (one tiny run of it, `run_tiny`'s result and folder)."""

    @pytest.fixture(scope="module")
    def benchmark():
        return importlib.import_module(f"benchmarks.{name}")

    @pytest.fixture(scope="module")
    def tiny(benchmark, tmp_path_factory):
        return run_tiny(benchmark, tiny_arguments, tmp_path_factory)

    return benchmark, tiny
