"""Train the Bayesian CNN on vote counts: validation split, early stopping, NaN guard, warm start."""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from mlworker import data
from mlworker.losses import keras_vote_loss
from mlworker.model import BayesianCNN, ModelConfig, build_model


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


def split_indices(items: int, validation_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split; no validation set when fewer than 10 items."""
    if not 0.0 <= validation_share < 1.0:
        raise ValueError(
            f"Invalid value for validation_share: expected 0 <= share < 1, received {validation_share}"
        )
    order = np.random.default_rng(seed).permutation(items)
    held_out = int(round(items * validation_share)) if items >= 10 else 0
    return np.sort(order[held_out:]), np.sort(order[:held_out])


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
    model = build_model(config)
    model.full.set_weights(warm_start.full.get_weights())
    return model


def train(
    images: np.ndarray,
    counts: dict[str, np.ndarray],
    config: ModelConfig,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    validation_share: float = 0.2,
    seed: int = 0,
    rotation_invariant: bool = True,
    augment_images: bool = True,
    warm_start: BayesianCNN | str | Path | None = None,
    patience: int = 5,
    learning_rate: float = 1e-3,
    callbacks: tuple = (),
    verbose: int = 0,
    continue_in_place: bool = False,
) -> TrainingResult:
    """Fit a model to vote counts.

    images: [items, h, w] or [items, h, w, c] floats in [0, 1]; counts: {question: int [items, answers]}.
    Early stopping on validation loss restores the best weights; a NaN loss raises FloatingPointError.
    `warm_start` copies an earlier model's weights into a new one; with `continue_in_place` a
    compiled BayesianCNN is trained further as it is (its optimizer state kept), which spares the
    rebuild and recompile in loops that retrain every round (the benchmarks).
    """
    images = data.as_image_batch(images)
    non_finite = int(np.size(images) - np.count_nonzero(np.isfinite(images)))
    if non_finite:
        raise ValueError(
            f"Invalid images: expected finite pixel values, received {non_finite} NaN/inf pixels"
        )
    missing = [q.key for q in config.questions if q.key not in counts]
    if missing:
        raise ValueError(f"Invalid counts: expected one array per question, missing {missing}")
    keras.utils.set_random_seed(seed)
    training_indices, validation_indices = split_indices(len(images), validation_share, seed)

    def subset(indices):
        return images[indices], {
            q.key: np.asarray(counts[q.key])[indices] for q in config.questions
        }

    train_images, train_counts = subset(training_indices)
    if continue_in_place and isinstance(warm_start, BayesianCNN) and warm_start.full.compiled:
        # Keep training the same model object: no rebuild, no recompile (a few seconds a round).
        model = warm_start
        model.full.optimizer.learning_rate.assign(learning_rate)
    else:
        if warm_start is not None:
            model = _warm_started(config, warm_start)
        else:
            model = build_model(fitted_config(config, train_images, train_counts))
        model.full.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss={q.key: keras_vote_loss for q in config.questions},
            jit_compile=False,
        )
    monitor = "val_loss" if len(validation_indices) else "loss"
    nan_guard = NanGuard()
    fit_callbacks = [
        nan_guard,
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.5, patience=max(1, patience // 2)
        ),
        *callbacks,
    ]
    batch_size = max(1, min(batch_size, len(training_indices)))
    validation = None
    if len(validation_indices):
        validation = data.evaluation_dataset(*subset(validation_indices), batch_size=batch_size)
    started = time.perf_counter()
    history = model.full.fit(
        data.training_dataset(
            train_images,
            train_counts,
            batch_size=batch_size,
            seed=seed,
            augment_images=augment_images,
            rotation_invariant=rotation_invariant,
        ),
        validation_data=validation,
        epochs=epochs,
        callbacks=fit_callbacks,
        shuffle=False,  # the dataset shuffles itself
        verbose=verbose,
    ).history
    seconds = time.perf_counter() - started
    losses = history.get("loss", [])
    if nan_guard.failed_at is not None:
        epoch, batch = nan_guard.failed_at
        raise FloatingPointError(
            f"Training diverged: the loss became NaN at epoch {epoch}, batch {batch}"
        )
    history = {name: [float(v) for v in values] for name, values in history.items()}
    return TrainingResult(
        model=model,
        history=history,
        seconds=seconds,
        epochs_run=len(losses),
        training_indices=training_indices,
        validation_indices=validation_indices,
    )
