"""The loop after a database reset or restore: old artefacts in MODEL_ROOT do not block retraining."""

import hashlib
from pathlib import Path

import pytest
from django.db import connection

from labelling.loop import claims
from labelling.models import ModelVersion, ModelVersionStatus, Project
from tests.labelling.loop.test_loop import demo_project, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def weights_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "model.weights.h5").read_bytes()).hexdigest()


def retrain_and_wait(project) -> ModelVersion:
    """The run's version once its round is recorded, or once it failed."""
    assert claims.retrain_request(project=project)
    return wait_for(
        lambda: (
            ModelVersion.objects.filter(project=project, status=ModelVersionStatus.FAILED)
            .union(ModelVersion.objects.filter(project=project, acquisition_round__isnull=False))
            .first()
        ),
        240,
        "the round or a failure",
    )


def test_retrain_after_a_database_reset_with_old_artefacts_present(celery_worker, worker_settings):
    project = demo_project("reset-database", subjects=40)
    old = retrain_and_wait(project)
    old_folder = Path(old.artefact_path)
    old_digest = weights_digest(old_folder)

    # The reset: the versions are gone and the id sequence starts again where the old version's
    # did, so the new version has the same number and id as the one whose folder is still there.
    ModelVersion.objects.filter(project=project).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('labelling_modelversion', 'id'), %s, false)",
            [old.pk],
        )
    new = retrain_and_wait(Project.objects.get(pk=project.pk))

    assert (new.number, new.pk) == (old.number, old.pk)
    assert new.status == ModelVersionStatus.READY, new.error
    assert Path(new.artefact_path) != old_folder and Path(new.artefact_path).is_dir()
    assert weights_digest(old_folder) == old_digest  # immutability kept: the old one untouched
