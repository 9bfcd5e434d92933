"""Where the tests put the figures the docs show (screenshots, the fault tests' counts).

By default in test-artifacts/docs/ (git-ignored), so a test run leaves the tree as it found it;
`make docs-figures` sets STARLING_WRITE_DOCS=1 and they go to docs/, where the README shows them.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCRATCH_DOCS = ROOT / "test-artifacts" / "docs"


def docs_folder() -> Path:
    """docs/ when STARLING_WRITE_DOCS=1, else test-artifacts/docs/ (made when missing)."""
    folder = DOCS if os.environ.get("STARLING_WRITE_DOCS") == "1" else SCRATCH_DOCS
    folder.mkdir(parents=True, exist_ok=True)
    return folder
