"""Train the Bayesian CNN on vote counts: validation split, early stopping, NaN guard, warm start."""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mlworker import data
from mlworker.consistency import ConsistencyTrainer, unlabelled_views
from mlworker.losses import keras_mixture_vote_loss
from mlworker.model import SOURCE_LAYER, BayesianCNN, ModelConfig, build_model, build_trainer
from mlworker.training_settings import DEFAULT_SETTINGS, TrainingSettings


@dataclass
class TrainingResult:
    model: BayesianCNN
    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    training_indices: np.ndarray
    validation_indices: np.ndarray
    config: ModelConfig = field(init=False)

    def __post_init__(self):
        self.config = self.model.config


class NanGuard(keras.callbacks.Callback):
    """Stop at the first non-finite batch loss and remember where (TerminateOnNaN does not tell)."""

    def __init__(self):
        super().__init__()
        self.failed_at: tuple[int, int] | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed_at = (self.epoch + 1, batch + 1)
            self.model.stop_training = True


class ValidationNll(keras.callbacks.Callback):
    """After each epoch, the validation items' vote NLL under the MC-dropout predictive.

    The quantity the model is used for (a mixture over `samples` dropout masks, joint over the
    tree), rather than Keras' val_loss of a single random mask, which is too noisy on the few
    validation items of an early round to stop on. Logged as `val_nll` for the callbacks after it.
    """

    def __init__(self, images, counts, network: BayesianCNN, samples: int = 20):
        super().__init__()
        self.images, self.counts, self.network, self.samples = images, counts, network, samples

    def on_epoch_end(self, epoch, logs=None):
        from mlworker import scoring

        nll = scoring.vote_nll(self.network, self.images, self.counts, self.samples, compiled=False)
        if logs is not None:
            logs["val_nll"] = nll


class KeepBest(keras.callbacks.Callback):
    """Early stopping that may pick any epoch: the best weights by `monitor` are tracked from the
    first epoch and restored at the end; training stops once `patience` epochs have passed without
    a better value, but not before `min_epochs`.

    Keras' EarlyStopping(start_from_epoch=n) also ignores epochs before n when choosing the weights
    to restore, so a first model that was best early was handed back after it had overfitted.
    """

    def __init__(self, monitor: str, patience: int, min_epochs: int = 0, after=None):
        """`after`: an earlier KeepBest (a fit before this one) whose best this one must beat."""
        super().__init__()
        self.monitor, self.patience, self.min_epochs = monitor, patience, min_epochs
        self.best, self.best_epoch, self.best_weights = math.inf, -1, None
        if after is not None:
            self.best, self.best_weights = after.best, after.best_weights

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and math.isfinite(float(value)) and float(value) < self.best:
            self.best, self.best_epoch = float(value), epoch
            self.best_weights = self.model.get_weights()
        if epoch + 1 >= self.min_epochs and epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def fitted_config(
    config: ModelConfig, images: np.ndarray, counts: dict[str, np.ndarray]
) -> ModelConfig:
    """Pixel statistics and output biases (log mean vote fractions) from the training data."""
    log_fractions = {}
    for key, question_counts in counts.items():
        totals = np.asarray(question_counts, dtype=np.float64).sum(axis=0) + 1.0  # +1: no log(0)
        log_fractions[key] = np.log(totals / totals.sum()).tolist()
    return config.replace(
        pixel_mean=float(images.mean()),
        pixel_std=float(max(images.std(), 1e-3)),
        initial_log_fractions=log_fractions,
    )


def _warm_started(config: ModelConfig, warm_start) -> BayesianCNN:
    """A new model carrying the weights (and pixel statistics) of an earlier one."""
    if isinstance(warm_start, str | Path):
        from mlworker.registry import load_model_version

        warm_start, _, _ = load_model_version(Path(warm_start))
    config = config.replace(
        pixel_mean=warm_start.config.pixel_mean,
        pixel_std=warm_start.config.pixel_std,
        initial_log_fractions=None,
    )
    model = build_model(config, pretrained=False)
    model.full.set_weights(warm_start.full.get_weights())
    return model


def train(
    images: np.ndarray,
    counts: dict[str, np.ndarray],
    config: ModelConfig,
    *,
    settings: TrainingSettings = DEFAULT_SETTINGS,
    training_indices: np.ndarray | None = None,
    validation_indices: np.ndarray | None = None,
    seed: int = 0,
    rotation_invariant: bool = True,
    augment_images: bool = True,
    warm_start: BayesianCNN | str | Path | None = None,
    unlabelled: np.ndarray | None = None,
    callbacks: tuple = (),
    verbose: int = 0,
) -> TrainingResult:
    """Fit a model to vote counts, as `settings` say (its split and restart fields are the caller's).

    images: [items, h, w] or [items, h, w, c] floats in [0, 1]; counts: {question: int [items, answers]}.
    The caller chooses the split (pipeline.split_roles keeps it fixed across rounds); without
    `training_indices` every item trains, without `validation_indices` nothing is held back.
    An epoch is at least `min_steps_per_epoch` optimizer steps (the data repeats), so a first round
    of 100 subjects still learns; the learning rate halves after `lr_patience` epochs without a
    better validation loss, and early stopping after `patience` restores the best weights — for a
    fresh model not before `min_epochs` (a warm start may stop at once). A NaN loss raises
    FloatingPointError. `warm_start` (a saved version's folder, as a round passes it, or a model)
    copies an earlier model's weights into a new one. With `settings.consistency_weight` > 0 and
    `unlabelled` images, every step also makes the network agree with itself on two views of
    unlabelled images (consistency.py).

    A fresh model whose config has a `trunk_source` (transfer.py) is fine-tuned: `frozen_epochs`
    with the source's trunk frozen, so that only the new head learns, then every layer at
    `fine_tune_rate` times the learning rate, stopping early as above (no `min_epochs`).
    """
    images = data.as_image_batch(images)
    _check_inputs(images, counts, config)
    keras.utils.set_random_seed(seed)
    everything = np.arange(len(images))
    training_indices = everything if training_indices is None else np.asarray(training_indices)
    validation_indices = (
        np.zeros(0, dtype=np.int64)
        if validation_indices is None
        else np.asarray(validation_indices)
    )
    if len(training_indices) == 0:
        raise ValueError("Invalid split: expected at least one training item, received none")

    def subset(indices):
        return images[indices], {
            q.key: np.asarray(counts[q.key])[indices] for q in config.questions
        }

    train_images, train_counts = subset(training_indices)
    model = _model_to_train(config, train_images, train_counts, warm_start)
    batch_size = max(1, min(settings.batch_size, len(training_indices)))
    dataset = data.training_dataset(
        train_images,
        stacked_counts(train_counts, model.config),
        batch_size=batch_size,
        seed=seed,
        augment_images=augment_images,
        rotation_invariant=rotation_invariant,
    ).repeat()
    runner = model.trainer
    if settings.consistency_weight > 0 and unlabelled is not None and len(unlabelled):
        outputs = {q.key: model.head.get_layer(f"answers_{q.key}") for q in model.config.questions}
        runner = ConsistencyTrainer(
            model.trainer, model.trunk, outputs, settings.consistency_weight
        )
        dataset = tf.data.Dataset.zip(
            (
                dataset,
                unlabelled_views(
                    unlabelled,
                    batch_size=settings.batch_size,
                    seed=seed,
                    rotation_invariant=rotation_invariant,
                ),
            )
        )
        _compile(runner, model.config)
    steps = max(math.ceil(len(training_indices) / batch_size), settings.min_steps_per_epoch)
    monitor = "val_nll" if len(validation_indices) else "loss"
    validation = (
        [ValidationNll(*subset(validation_indices), model)] if len(validation_indices) else []
    )
    nan_guard = NanGuard()

    def fit(epochs, rate, keep_best, lr_patience):
        runner.optimizer.learning_rate.assign(rate)
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode="min", factor=0.5, patience=lr_patience, min_lr=rate / 16
        )
        return runner.fit(
            dataset,
            steps_per_epoch=steps,
            shuffle=False,  # the dataset shuffles itself
            epochs=epochs,
            callbacks=[nan_guard, *validation, keep_best, plateau, *callbacks],
            verbose=verbose,
        ).history

    frozen_epochs, learning_rate = settings.frozen_epochs, settings.learning_rate
    fine_tune = warm_start is None and model.config.trunk_source is not None and frozen_epochs > 0
    started = time.perf_counter()
    phases, head_only = [], None
    if fine_tune:
        source = model.trunk.get_layer(SOURCE_LAYER)
        source.trainable = False
        _compile(runner, model.config)  # Keras takes a change of `trainable` at compile time
        head_only = KeepBest(monitor, patience=frozen_epochs)
        phases.append(fit(frozen_epochs, learning_rate, head_only, frozen_epochs))
        source.trainable = True
        _compile(runner, model.config)
        learning_rate *= settings.fine_tune_rate
    if nan_guard.failed_at is None:
        fresh = warm_start is None and not fine_tune
        minimum = settings.min_epochs if fresh else 0
        keep_best = KeepBest(monitor, settings.patience, minimum, after=head_only)
        phases.append(fit(settings.epochs, learning_rate, keep_best, settings.lr_patience))
    seconds = time.perf_counter() - started
    if nan_guard.failed_at is not None:
        epoch, batch = nan_guard.failed_at
        raise FloatingPointError(
            f"Training diverged: the loss became NaN at epoch {epoch}, batch {batch}"
        )
    history = {
        name: [float(v) for phase in phases for v in phase.get(name, [])] for name in phases[-1]
    }
    return TrainingResult(
        model=model,
        history=history,
        seconds=seconds,
        epochs_run=len(history.get("loss", [])),
        training_indices=training_indices,
        validation_indices=validation_indices,
    )


def _check_inputs(images: np.ndarray, counts: dict, config: ModelConfig) -> None:
    non_finite = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
    if non_finite:
        raise ValueError(
            f"Invalid images: expected finite pixel values, received {non_finite} NaN/inf pixels"
        )
    missing = [q.key for q in config.questions if q.key not in counts]
    if missing:
        raise ValueError(f"Invalid counts: expected one array per question, missing {missing}")


def _model_to_train(config, train_images, train_counts, warm_start):
    """A warm-started copy or a fresh model, compiled."""
    if warm_start is not None:
        model = _warm_started(config, warm_start)
    else:
        model = build_model(fitted_config(config, train_images, train_counts))
    model.trainer = build_trainer(model)
    _compile(model.trainer, model.config)
    return model


def _compile(trainer: keras.Model, config: ModelConfig) -> None:
    """A fresh Adam optimizer and the vote loss on what trains (again after `trainable` changes)."""
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras_mixture_vote_loss(
            tuple(len(q.answers) for q in config.questions), config.mask_alpha
        ),
        jit_compile=False,
    )


def stacked_counts(counts: dict[str, np.ndarray], config: ModelConfig) -> np.ndarray:
    """{question: [items, answers]} -> float32 [items, all answers] in the config's question order."""
    return np.concatenate(
        [np.asarray(counts[q.key], dtype=np.float32) for q in config.questions], axis=1
    )
