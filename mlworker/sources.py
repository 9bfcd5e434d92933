"""The two forms of a model's `trunk_source` (transfer.py builds the trunk from them).

Plain Python (no TensorFlow), so the web process writes the same dicts the worker reads:

    version_source(folder, label)   another Starling version: its config and its weights file
    keras_source(path, label)       a .keras file that passed transfer.inspect_keras_file
"""

import json
from pathlib import Path

WEIGHTS = "model.weights.h5"  # registry.py's file name inside a version folder


def version_source(folder: str | Path, label: str, **extra) -> dict:
    """The trunk of the version saved in `folder` (config.json and the weights beside it)."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    return {
        "kind": "version",
        "label": label,
        **extra,
        "config": config,
        "weights": str(folder / WEIGHTS),
    }


def keras_source(path: str | Path, label: str, **extra) -> dict:
    return {"kind": "keras", "label": label, **extra, "path": str(path)}


def describe(source: dict | None) -> str:
    """What a model starts from, for people: "random weights" or the source's label."""
    if not source:
        return "random weights"
    kind = "a Keras file" if source.get("kind") == "keras" else "a model version"
    return f"{source.get('label', '?')} ({kind})"
