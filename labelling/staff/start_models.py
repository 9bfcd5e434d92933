"""Where a project's first model starts: random weights, another project's version, or a Keras file.

Staff choose on the dashboard's "Starting model" page. The choice is stored as
Project.start_model: the `trunk_source` (mlworker/sources.py) that the worker's model config
carries. Each choice first copies what it needs into the project's own folder,
MODEL_ROOT/<slug>/start/, so deleting the source version (or its whole project) later changes
nothing here.

The next version that has no earlier version of the same shape to warm-start from fine-tunes the
source (mlworker.transfer). That is the first version, or the first after the tree or the starting
model changed. Later versions warm-start from it as before.

The web process never imports TensorFlow. An uploaded file is checked by `python -m
mlworker.transfer` in a child process, and is stored only when that check passes.
"""

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from labelling.core.errors import InvalidInput, NotFound
from labelling.models import ModelVersion, ModelVersionStatus, Project
from mlworker import sources

logger = logging.getLogger(__name__)
CONFIG = "config.json"


def start_candidates(*, project: Project) -> QuerySet[ModelVersion]:
    """Ready versions of other projects that this project may start from."""
    return (
        ModelVersion.objects.filter(status=ModelVersionStatus.READY)
        .exclude(project=project)
        .exclude(artefact_path="")
        .select_related("project")
        .order_by("project__title", "-number")
    )


def start_folder(project: Project) -> Path:
    return Path(settings.MODEL_ROOT) / project.slug / "start"


def start_from_version(*, project: Project, version_id: int) -> dict:
    """Copy a ready version of another project into this project's folder and start from it."""
    version = ModelVersion.objects.select_related("project").filter(pk=version_id).first()
    if version is None:
        raise NotFound(f"No model version with id {version_id}")
    name = f"{version.project.slug} v{version.number}"
    if version.project_id == project.pk:
        raise InvalidInput(
            f"Expected a version of another project, received {name}: this project's own "
            "versions are already where its next version starts"
        )
    if version.status != ModelVersionStatus.READY:
        raise InvalidInput(f"Expected a ready version, received {name}, which is {version.status}")
    origin = Path(version.artefact_path)
    if not (origin / sources.WEIGHTS).is_file() or not (origin / CONFIG).is_file():
        raise InvalidInput(f"{name} has no saved model at {origin}: its files were removed")
    folder = start_folder(project) / f"version-{version.pk}-{uuid.uuid4().hex[:8]}"
    incoming = folder.with_name(f".incoming-{folder.name}")
    incoming.mkdir(parents=True)
    try:
        shutil.copyfile(origin / sources.WEIGHTS, incoming / sources.WEIGHTS)
        config = _own_files(json.loads((origin / CONFIG).read_text()), incoming, folder)
        (incoming / CONFIG).write_text(json.dumps(config, indent=2))
        os.rename(incoming, folder)
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    return _store(project, sources.version_source(folder, name, version_id=version.pk))


def _own_files(config: dict, incoming: Path, folder: Path) -> dict:
    """`config` with the Keras files its trunk is built from (a source version that itself
    started from a file, at any depth) copied into `incoming`, their paths in `folder` (the name
    `incoming` is renamed to once complete)."""
    source = config.get("trunk_source")
    if not source:
        return config
    if source.get("kind") == "keras":
        name = Path(source["path"]).name
        shutil.copyfile(source["path"], incoming / name)
        source = {**source, "path": str(folder / name)}
    elif source.get("kind") == "version":
        source = {**source, "config": _own_files(source["config"], incoming, folder)}
    return {**config, "trunk_source": source}


def start_from_file(*, project: Project, upload) -> dict:
    """Check an uploaded .keras file in a child process; store it and start from it only if it
    passes. A refused file leaves nothing behind and the project's start as it was."""
    limit_mb = settings.STARLING_MAX_TRUNK_MB
    if upload.size > limit_mb * 2**20:
        raise InvalidInput(
            f"Too large: {upload.name} is {upload.size / 2**20:.1f} MB, the limit is {limit_mb} MB"
        )
    if not upload.name.lower().endswith(".keras"):
        raise InvalidInput(
            "Expected a Keras model file ending in .keras (written by model.save('name.keras')), "
            f"received {upload.name!r}"
        )
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="starling-trunk-") as scratch:
        checked = Path(scratch) / "upload.keras"
        with open(checked, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
                digest.update(chunk)
        report = _check_in_child(checked)
        folder = start_folder(project)
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"file-{digest.hexdigest()[:16]}.keras"
        incoming = folder / f".incoming-{uuid.uuid4().hex[:8]}.keras"
        shutil.copyfile(checked, incoming)
        os.replace(incoming, stored)
    source = sources.keras_source(
        stored,
        upload.name,
        sha256=digest.hexdigest(),
        input=report["input"],
        features=report["features"],
        parameters=report["parameters"],
    )
    return _store(project, source)


def _check_in_child(path: Path) -> dict:
    """mlworker.transfer's check of a file, run in a child process (TensorFlow stays out of here)."""
    command = [sys.executable, "-m", "mlworker.transfer", str(path)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=settings.STARLING_TRUNK_CHECK_SECONDS,
            env=environment,
            cwd=settings.BASE_DIR,
        )
    except subprocess.TimeoutExpired:
        raise InvalidInput(
            f"The file's check took longer than {settings.STARLING_TRUNK_CHECK_SECONDS} s; "
            "it was not stored"
        ) from None
    reports = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not reports:
        logger.error("trunk check ended with code %s: %s", completed.returncode, completed.stderr)
        raise InvalidInput(
            f"The file could not be checked (the checker ended with code {completed.returncode}); "
            "it was not stored"
        )
    report = json.loads(reports[-1])
    if not report["ok"]:
        raise InvalidInput(report["error"])
    return report


def start_from_scratch(*, project: Project) -> dict:
    """Random weights again for the next version that has nothing to warm-start from."""
    return _store(project, {})


def _store(project: Project, source: dict) -> dict:
    Project.objects.filter(pk=project.pk).update(start_model=source)
    project.start_model = source
    return source
