"""mlworker is a library: it imports with Django, Celery and the web app absent (issue 24)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every module of mlworker, imported in a process where `import django` (and celery, labelling,
# starling) fails as it would where they are not installed.
SCRIPT = """
import importlib, importlib.abc, pkgutil, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"django", "celery", "labelling", "starling"}:
            raise ModuleNotFoundError(f"No module named {name!r} (absent in this test)")
        return None

sys.meta_path.insert(0, Absent())
import mlworker
names = sorted(m.name for m in pkgutil.iter_modules(mlworker.__path__, "mlworker."))
for name in names:
    importlib.import_module(name)
print("IMPORTED", len(names))
"""


def test_every_mlworker_module_imports_without_django():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count = len(list((ROOT / "mlworker").glob("*.py"))) - 1  # less __init__.py
    assert f"IMPORTED {count}" in result.stdout, result.stdout[-1000:]
