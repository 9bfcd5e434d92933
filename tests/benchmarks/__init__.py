"""Helpers for the benchmark tests: load a benchmark script, and write a README section from a
result file into a scratch README."""

import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    figures = load("readme_figures", ROOT / "benchmarks" / "readme_figures.py")
    active_learning = ROOT / "benchmarks" / "results" / "active_learning.json"
    figures.main(readme, {"active_learning": active_learning, **result_paths})
    text = readme.read_text()
    assert "stale" not in text and text.startswith("a\n") and text.endswith("z\n")
    return text


def run_tiny(benchmark, arguments: list[str], tmp_path_factory) -> tuple[dict, Path]:
    """`benchmark.main(arguments)` writing tiny.json and tiny.png into a fresh folder."""
    folder = tmp_path_factory.mktemp("tiny")
    return benchmark.main([*arguments, "--results-dir", str(folder), "--output", "tiny"]), folder


def benchmark_fixtures(script: str, tiny_arguments: list[str]):
    """A benchmark test module's two module fixtures: `benchmark` (benchmarks/<script> loaded)
    and `tiny` (one tiny run of it, `run_tiny`'s result and folder)."""

    @pytest.fixture(scope="module")
    def benchmark():
        # Imported as benchmarks.<name>, so that `--jobs 2` child processes can import it too.
        return importlib.import_module(f"benchmarks.{Path(script).stem}")

    @pytest.fixture(scope="module")
    def tiny(benchmark, tmp_path_factory):
        return run_tiny(benchmark, tiny_arguments, tmp_path_factory)

    return benchmark, tiny
