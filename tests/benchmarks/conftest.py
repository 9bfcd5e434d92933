"""Every test under tests/benchmarks carries the `benchmark` marker (`make test-fast` leaves them
out; `pytest -m benchmark` runs them alone)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.benchmark)
