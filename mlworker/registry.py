"""Save and load model versions atomically: written aside, then renamed into place.

A version folder holds `model.weights.h5` (its first network's weights), `member-<i>.weights.h5`
for each further member of an ensemble (config.json says how many), `config.json` and
`metrics.json`. A crash mid-save leaves
a hidden `.incoming-*` folder (ignored, removed by the next save) and every earlier version intact.
"""

import json
import os
import shutil
import uuid
from pathlib import Path

from mlworker.model import BayesianCNN, ModelConfig, build_model
from mlworker.sources import WEIGHTS


def member_weights(index: int) -> str:
    """The weights file of an ensemble's member `index` (the first keeps the plain name)."""
    return WEIGHTS if index == 0 else f"member-{index}.weights.h5"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def save_model_version(
    directory: Path, model: BayesianCNN, config: ModelConfig, metrics: dict
) -> Path:
    """Write a version to `directory` atomically. Refuses to overwrite an existing version."""
    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(
            f"Model version folder already exists: {directory} (versions are immutable)"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    for stale in directory.parent.glob(f".incoming-{directory.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    incoming = directory.parent / f".incoming-{directory.name}-{uuid.uuid4().hex[:8]}"
    incoming.mkdir()
    try:
        for index, member in enumerate(model.members):
            member.full.save_weights(incoming / member_weights(index))
        (incoming / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        (incoming / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
        _fsync_tree(incoming)
        os.rename(incoming, directory)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return directory


def load_model_version(directory: Path) -> tuple[BayesianCNN, ModelConfig, dict]:
    directory = Path(directory)
    if not (directory / WEIGHTS).exists():
        raise FileNotFoundError(f"No model version at {directory}: {WEIGHTS} is missing")
    config = ModelConfig.from_dict(json.loads((directory / "config.json").read_text()))
    members = []
    for index in range(config.members):
        if not (directory / member_weights(index)).exists():
            raise FileNotFoundError(
                f"Incomplete model version at {directory}: config.json names {config.members} "
                f"members, {member_weights(index)} is missing"
            )
        members.append(build_model(config, pretrained=False))  # its own weights, loaded next
        members[-1].full.load_weights(directory / member_weights(index))
    model = members[0]
    model.extra_members = members[1:]
    metrics = json.loads((directory / "metrics.json").read_text())
    return model, config, metrics
