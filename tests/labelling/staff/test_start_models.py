"""A project that starts from a model that already knows (issue 15), through the staff page and a
real worker: another project's version, a Keras file the test trains and saves, every bad file
refused with its message and nothing stored, and the source deleted afterwards."""

import io
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from labelling.loop import claims
from labelling.models import ModelVersion, ModelVersionStatus, Project
from labelling.staff.start_models import start_folder
from tests.labelling.loop.test_loop import demo_project, wait_for


def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def keras_file(tmp_path: Path, model: keras.Model, name="backbone.keras") -> SimpleUploadedFile:
    path = tmp_path / name
    model.save(path)
    return SimpleUploadedFile(name, path.read_bytes())


def conv_backbone(input_shape=(16, 16, 3)) -> keras.Model:
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))


def trained_backbone() -> keras.Model:
    """A backbone trained here, a few steps on a toy task (bright centre or not), as staff would
    bring one trained elsewhere."""
    backbone = conv_backbone()
    classifier = keras.Sequential([backbone, keras.layers.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.5, (64, 16, 16, 3)).astype("float32")
    bright = rng.uniform(size=64) < 0.5
    images[bright, 6:10, 6:10, :] += 0.5
    classifier.compile("adam", "binary_crossentropy")
    classifier.fit(images, bright.astype("float32"), epochs=2, verbose=0)
    return backbone


def lambda_model() -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs))


def zip_without_config() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.weights.h5", b"not weights")
    return buffer.getvalue()


def dense_model() -> keras.Model:
    inputs = keras.Input((10,))
    return keras.Model(inputs, keras.layers.Dense(4)(inputs))


BAD_FILES = {
    "not a Keras file": (
        lambda tmp: SimpleUploadedFile("model.keras", b"just some text"),
        "Not a Keras model file: expected a .keras archive",
    ),
    "a zip without config.json": (
        lambda tmp: SimpleUploadedFile("model.keras", zip_without_config()),
        "the archive has no config.json",
    ),
    "Python code in a Lambda layer": (
        lambda tmp: keras_file(tmp, lambda_model()),
        "holds Python code (a Lambda layer), which Starling never runs",
    ),
    "no 4-D image input": (
        lambda tmp: keras_file(tmp, dense_model()),
        "Expected a 4-D image input (batch, height, width, channels), received (None, 10)",
    ),
    "an input it cannot adapt": (
        lambda tmp: keras_file(tmp, conv_backbone((16, 16, 5))),
        "An input Starling cannot adapt: expected 1 or 3 channels, received 5",
    ),
    "too large": (
        lambda tmp: SimpleUploadedFile("model.keras", b"\0" * (2 * 2**20)),
        "Too large: model.keras is 2.0 MB, the limit is 1 MB",
    ),
    "not named .keras": (
        lambda tmp: SimpleUploadedFile("model.h5", b"\0"),
        "Expected a Keras model file ending in .keras",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_every_bad_file_is_refused_with_its_message_and_nothing_is_stored(
    case, project, staff, settings, tmp_path
):
    settings.MODEL_ROOT = tmp_path / "models"
    settings.STARLING_MAX_TRUNK_MB = 1
    make_upload, message = BAD_FILES[case]
    response = staff_client(staff).post(
        f"/staff/projects/{project.slug}/start/",
        {"action": "file", "trunk_file": make_upload(tmp_path)},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Project.objects.get(pk=project.pk).start_model == {}
    stored = list(start_folder(project).rglob("*")) if start_folder(project).exists() else []
    assert stored == []


@pytest.mark.django_db
def test_a_version_of_the_same_project_or_one_not_ready_is_refused(project, staff):
    own = ModelVersion.objects.create(project=project, number=1, status=ModelVersionStatus.READY)
    response = staff_client(staff).post(
        f"/staff/projects/{project.slug}/start/", {"action": "version", "version": own.pk}
    )
    assert response.status_code == 400
    assert f"Expected a ready version of another project, received &#x27;{own.pk}&#x27;" in (
        response.content.decode()
    )
    assert Project.objects.get(pk=project.pk).start_model == {}


def wait_for_round(project, number: int) -> ModelVersion:
    """Version `number` once its round is recorded, or once it failed."""
    assert claims.retrain_request(project=project)
    version = wait_for(
        lambda: (
            ModelVersion.objects.filter(
                project=project, number=number, status__in=[ModelVersionStatus.FAILED]
            ).first()
            or ModelVersion.objects.filter(
                project=project, number=number, acquisition_round__isnull=False
            ).first()
        ),
        240,
        f"v{number}'s round or its failure",
    )
    assert version.status == ModelVersionStatus.READY, version.error
    return version


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_project_fine_tunes_another_projects_version_and_outlives_its_deletion(
    celery_worker, worker_settings, staff
):
    source_project = demo_project("source-survey", subjects=40, size=24)
    source = wait_for_round(source_project, 1)
    project = demo_project("new-survey", subjects=40, size=32)
    client = staff_client(staff)
    page = client.get(f"/staff/projects/{project.slug}/start/").content.decode()
    assert "source-survey v1" in page  # offered as a starting point

    response = client.post(
        f"/staff/projects/{project.slug}/start/", {"action": "version", "version": source.pk}
    )
    assert response.status_code == 302
    first = wait_for_round(project, 1)
    assert first.started_from == "source-survey v1 (a model version), fine-tuned"
    assert first.config["trunk_source"]["config"]["image_size"] == 24  # resized 32 -> 24
    assert first.predictions.count() == 40

    # The source goes: its version rows, its files, its whole project.
    shutil.rmtree(Path(source.artefact_path).parent)
    source_project.delete()
    assert Project.objects.get(pk=project.pk).start_model["label"] == "source-survey v1"
    second = wait_for_round(Project.objects.get(pk=project.pk), 2)
    assert second.started_from == "v1 of this project"
    assert second.timings["warm_start"] is True
    assert second.predictions.count() == 40
    dashboard = client.get(f"/staff/projects/{project.slug}/").content.decode()
    assert "source-survey v1 (a model version), fine-tuned" in dashboard
    # v2 is judged beside v1 on the same held-out subjects (when the hash split held any out).
    held_out, against = second.held_out_summary, second.against_previous
    if held_out["items"]:
        assert (against["version"], against["items"], against["nll"]) == (
            1, held_out["items"], held_out["nll"]
        )  # fmt: skip
        assert f"against v1 on the same {held_out['items']} subjects" in dashboard
    else:
        assert against == {}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_project_fine_tunes_a_keras_file_the_test_trained_and_saved(
    celery_worker, worker_settings, staff, tmp_path
):
    project = demo_project("file-survey", subjects=40, size=24)
    response = staff_client(staff).post(
        f"/staff/projects/{project.slug}/start/",
        {"action": "file", "trunk_file": keras_file(tmp_path, trained_backbone())},
    )
    assert response.status_code == 302
    start = Project.objects.get(pk=project.pk).start_model
    assert (start["kind"], start["label"], start["input"]) == (
        "keras",
        "backbone.keras",
        [16, 16, 3],
    )
    assert Path(start["path"]).is_file() and Path(start["path"]).parent == start_folder(project)

    version = wait_for_round(Project.objects.get(pk=project.pk), 1)
    assert version.started_from == "backbone.keras (a Keras file), fine-tuned"
    assert version.predictions.count() == 40
