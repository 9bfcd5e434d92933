"""The loop's Celery tasks: beat's schedule check (default queue), and the ML tasks (`ml` queue,
settings.CELERY_TASK_ROUTES), the only place where Django meets TensorFlow.

retrain(project_id) -> chord(score_pool(version_id, subject_ids) per chunk) -> select_round(version_id)

Tasks take ids and are idempotent; TensorFlow is imported inside task bodies, so importing this
module (as Celery's autodiscovery does in any process) loads no TensorFlow.
"""

import json
import logging
import time
from pathlib import Path

import numpy as np
from celery import chord, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from labelling.core import selectors
from labelling.crowd import reliability
from labelling.loop import claims, model_selectors, rounds
from labelling.models import ModelVersion, ModelVersionStatus, Project

logger = logging.getLogger(__name__)
_model_cache: dict[int, object] = {}


@shared_task(
    name="labelling.loop.tasks.check_retraining_schedules",
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def check_retraining_schedules() -> list[int]:
    """Release retrain claims whose lease expired (a worker died), then queue a retrain for every
    project whose schedule says so; returns the queued project ids."""
    queued = []
    for project in selectors.project_list_all():
        try:
            claims.retrain_reap_stale(project=project)
            if model_selectors.retraining_due(project=project) and claims.retrain_request(
                project=project
            ):
                queued.append(project.pk)
        except Exception:  # one project's trouble must not stop the others' schedule
            logger.exception("retraining check failed for project %s", project.pk)
    if queued:
        logger.info("queued retrains for projects %s", queued)
    return queued


def question_configs(project: Project):
    """The project's question tree as mlworker QuestionConfigs (parents before children)."""
    from labelling.core.selectors import project_tree

    return project_tree(project=project).head_questions()


def configure_device() -> str:
    """Use a GPU when there is one (memory growth on); return what the run uses."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process
            pass
    return f"GPU: {gpus[0].name}" if gpus else "CPU"


def model_config_for(project: Project):
    from mlworker import pipeline

    return pipeline.model_config(
        question_configs(project),
        image_size=project.image_size,
        channels=project.image_channels,
        trunk_source=project.start_model or None,  # labelling/staff/start_models.py
        rotation_invariant=project.rotation_invariant,
    )


def training_settings():
    """mlworker's training defaults with the fields the environment sets (settings.py)."""
    from mlworker.training_settings import TrainingSettings

    return TrainingSettings(**settings.STARLING_TRAINING)


# Config fields a version may differ in from the next one's and still be its warm start: fitted
# from the data, or how it is scored and how many members it has (each member warm-starts from
# the matching one, pipeline.py).
NOT_SHAPE = (
    "pixel_mean", "pixel_std", "initial_log_fractions", "test_time_symmetries", "members",
    "calibration",
)  # fmt: skip


def _previous_good(project: Project, config) -> ModelVersion | None:
    """The latest ready version not marked worse than the baseline, if it has the same shape (the
    same tree, image size and starting model) and its files are there."""
    previous = model_selectors.model_version_latest_good(project=project)
    if previous is None or not previous.artefact_path:
        return None
    # Compared as stored (JSON): a tuple in the config is a list in previous.config, and before
    # this comparison went through JSON no version ever warm-started.
    current = json.loads(json.dumps(config.to_dict()))
    same_shape = all(
        previous.config.get(name) == value
        for name, value in current.items()
        if name not in NOT_SHAPE
    )
    return previous if same_shape and Path(previous.artefact_path).exists() else None


def started_from(previous: ModelVersion | None, config) -> str:
    """What a version's training starts from, for the dashboard."""
    from mlworker import sources

    if previous is not None:
        return f"v{previous.number} of this project"
    if config.trunk_source:
        return f"{sources.describe(config.trunk_source)}, fine-tuned"
    return sources.describe(None)


def _redelivered_task(name: str, time_limit: int, *, grace: int):
    """A task acknowledged only after it ran, so a dead worker's task is delivered again; its soft
    limit raises SoftTimeLimitExceeded inside the task, the hard one `grace` seconds later."""
    return shared_task(
        bind=True,
        name=name,
        acks_late=True,
        reject_on_worker_lost=True,
        soft_time_limit=time_limit,
        time_limit=time_limit + grace,
    )


@_redelivered_task("labelling.loop.tasks.retrain", settings.STARLING_RETRAIN_TIME_LIMIT, grace=120)
def retrain(self, project_id: int) -> int | None:
    """Train a new model version on every subject with votes, then fan out scoring."""
    version = None
    try:
        project = selectors.project_get(project_id=project_id)
        version = rounds.model_version_start(project_id=project_id, task_id=self.request.id or "")
        if version.status != ModelVersionStatus.TRAINING:
            return version.pk  # redelivered after it finished: nothing to do
        if _train_and_register(project, version):
            _launch_scoring(project, version)
        else:  # worse than the image-free baseline: the queue's order stays as it is
            claims.retrain_release(project_id=project_id, token=self.request.id or "")
        return version.pk
    except (Exception, SoftTimeLimitExceeded) as error:
        logger.exception("retrain of project %s failed", project_id)
        rounds.model_version_fail(
            version_id=version.pk if version else None,
            project_id=project_id,
            error=f"{type(error).__name__}: {error}",
            token=self.request.id,
        )
        return None


def _train_and_register(project: Project, version: ModelVersion) -> bool:
    """Train, judge on the held-out split beside the baseline, save, mark ready.

    Returns whether the version may steer the queue (False when worse than the baseline).
    """
    import keras

    from mlworker import data, pipeline, registry

    device = configure_device()
    started = time.perf_counter()
    # Every volunteer weighed first: the round trains and judges on the weighted counts.
    crowd = reliability.reliability_update(
        project=project, version=model_selectors.model_version_latest_good(project=project)
    )
    crowd_seconds = time.perf_counter() - started
    training_set = model_selectors.training_set_for_project(
        project=project, weighted=crowd.vote_counts
    )
    if len(training_set.subject_ids) < 2:
        raise ValueError(
            f"Not enough labelled subjects to train: expected at least 2 with votes, found {len(training_set.subject_ids)}"
        )
    images = data.load_image_files(
        training_set.image_paths, project.image_size, project.image_channels
    )
    load_seconds = time.perf_counter() - started
    config = model_config_for(project)
    previous = _previous_good(project, config)
    warm_start = Path(previous.artefact_path) if previous else None

    class Heartbeat(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            claims.retrain_heartbeat(project_id=project.pk)

    fit = pipeline.fit_and_evaluate(
        images,
        training_set.counts,
        training_set.subject_ids,
        config,
        settings=training_settings(),
        samples=project.mc_samples,
        seed=version.number,
        rotation_invariant=project.rotation_invariant,
        warm_start=warm_start,
        callbacks=(Heartbeat(),),
        # Judged beside the version it would replace, on the same held-out subjects and votes.
        compare_with=registry.load_model_version(warm_start)[0] if warm_start else None,
    )
    if "_against_previous" in fit.metrics:
        fit.metrics["_against_previous"]["version"] = previous.number
    fit.metrics["_crowd"] = {
        "volunteers": len(crowd.weights),
        "flagged": crowd.flagged,
        "reactivated": len(crowd.reactivated),
    }
    folder = Path(settings.MODEL_ROOT) / project.slug / artefact_folder_name(version)
    registry.save_model_version(folder, fit.model, fit.config, fit.metrics)
    rounds.model_version_mark_ready(
        version=version,
        artefact_path=folder,
        metrics=fit.metrics,
        timings={
            "crowd_seconds": round(crowd_seconds, 3),
            "load_seconds": round(load_seconds - crowd_seconds, 3),
            "train_seconds": round(fit.training.seconds, 3),
            "epochs": fit.training.epochs_run,
            "warm_start": bool(warm_start),
        },
        training_set_size=len(training_set.subject_ids),
        config=fit.config.to_dict(),
        device=device,
        worse_than_baseline=fit.worse_than_baseline,
        started_from=started_from(previous, config),
    )
    claims.retrain_heartbeat(project_id=project.pk)
    return not fit.worse_than_baseline


def artefact_folder_name(version: ModelVersion) -> str:
    """Unique per version row for good: a reset or restored database reuses numbers and ids, so a
    random part keeps a new version from meeting an old folder (versions stay immutable)."""
    import uuid

    return f"v{version.number}-{version.pk}-{uuid.uuid4().hex[:12]}"


def _launch_scoring(project: Project, version: ModelVersion) -> None:
    pool = model_selectors.scoring_pool(project=project)
    size = settings.STARLING_SCORE_CHUNK
    chunks = [pool[start : start + size] for start in range(0, len(pool), size)]
    if not chunks:
        select_round.apply_async(args=[[], version.pk], queue="ml")
        return
    chord([score_pool.s(version.pk, chunk).set(queue="ml") for chunk in chunks])(
        select_round.s(version.pk).set(queue="ml")
    )


def _load_model(version: ModelVersion):
    from mlworker import registry

    if version.pk not in _model_cache:
        _model_cache.clear()
        _model_cache[version.pk] = registry.load_model_version(Path(version.artefact_path))[0]
    return _model_cache[version.pk]


@_redelivered_task("labelling.loop.tasks.score_pool", settings.STARLING_SCORE_TIME_LIMIT, grace=60)
def score_pool(self, version_id: int, subject_ids: list[int]) -> float:
    """MC samples for a chunk of subjects -> Prediction rows (upserted). Returns seconds spent."""
    from mlworker import data, pipeline, predictions

    started = time.perf_counter()
    version = model_selectors.model_version_with_project(version_id=version_id)
    project = version.project
    model = _load_model(version)
    rows = sorted(model_selectors.subject_image_paths(subject_ids=subject_ids).items())
    paths = [path for _, path in rows]
    images = data.load_image_files(paths, project.image_size, project.image_channels)
    scored = pipeline.score(
        model,
        images,
        volunteers=project.retirement_limit,
        samples=project.mc_samples,
        strategy=project.acquisition_strategy,
        rng=np.random.default_rng(version_id),
    )
    catalogue = predictions.prediction_rows(
        scored, model.config.questions, project.retirement_limit
    )
    rounds.predictions_write(
        version_id=version_id,
        rows=[
            {"subject_id": pk, **prediction}
            for (pk, _), prediction in zip(rows, catalogue, strict=True)
        ],
    )
    return time.perf_counter() - started


@_redelivered_task(
    "labelling.loop.tasks.select_round", settings.STARLING_SCORE_TIME_LIMIT, grace=60
)
def select_round(self, chunk_seconds: list[float], version_id: int) -> int | None:
    """Pick the round by the project's strategy, reorder the queue, record it, release the claim."""
    from mlworker import acquisition

    started = time.perf_counter()
    version = model_selectors.model_version_with_project(version_id=version_id)
    project = version.project
    try:
        scored = model_selectors.prediction_scores(version=version)
        scored_ids = np.array([pk for pk, _ in scored], dtype=np.int64)
        scores = np.array([score for _, score in scored], dtype=np.float64)
        rng = np.random.default_rng(version.number)
        features = None
        if project.acquisition_strategy == "diverse_bald" and len(scored_ids):
            features = _features_for(version, scored_ids)
        picked = (
            acquisition.select(
                project.acquisition_strategy,
                scores,
                project.acquisition_batch_size,
                rng,
                features=features,
                beta=settings.STARLING_POWER_BALD_BETA,
            )
            if len(scored_ids)
            else np.zeros(0, dtype=np.int64)
        )
        picks = rounds.round_picks_choose(
            scored_ids=scored_ids,
            picked=picked,
            batch_size=project.acquisition_batch_size,
            exploration_share=project.exploration_share,
            rng=rng,
        )
        acquisition_round = rounds.round_record(
            version=version,
            picks=picks,
            scores=dict(zip(scored_ids.tolist(), scores.tolist(), strict=True)),
        )
        rounds.model_version_add_timings(
            version_id=version_id,
            timings={
                "score_seconds": round(float(sum(chunk_seconds or [])), 3),
                "score_chunks": len(chunk_seconds or []),
                "select_seconds": round(time.perf_counter() - started, 3),
            },
        )
        return acquisition_round.pk
    except (Exception, SoftTimeLimitExceeded) as error:
        logger.exception("round selection for version %s failed", version_id)
        rounds.model_version_add_timings(
            version_id=version_id, timings={"select_error": f"{type(error).__name__}: {error}"}
        )
        claims.retrain_release(project_id=project.pk, token=version.task_id)
        return None


def _features_for(version: ModelVersion, subject_ids: np.ndarray) -> np.ndarray:
    from mlworker import data, scoring

    project = version.project
    model = _load_model(version)
    paths = model_selectors.subject_image_paths(subject_ids=subject_ids.tolist())
    images = data.load_image_files(
        [paths[int(pk)] for pk in subject_ids],
        project.image_size,
        project.image_channels,
    )
    return scoring.features(model, images)
