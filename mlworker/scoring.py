"""Monte Carlo dropout samples, shaped [items, answers, samples] per question.

Fast path: the convolutional trunk is deterministic, so it runs once per image; only the dropout
head runs T times, on the features tiled T times in one call. Generic path: T full forward passes,
for models whose dropout is not only in the head.
"""

import numpy as np
import tensorflow as tf

from mlworker import calibration
from mlworker.data import as_image_batch
from mlworker.model import BayesianCNN


def _functions(model: BayesianCNN):
    """tf.functions for trunk and head, compiled once per network (kept on it, so each member of
    an ensemble keeps its own graphs)."""
    if getattr(model, "_scoring_functions", None) is None:
        trunk = tf.function(lambda x: model.trunk(x, training=False), reduce_retracing=True)
        head = tf.function(lambda x: model.head(x, training=False), reduce_retracing=True)
        model._scoring_functions = (trunk, head)
    return model._scoring_functions


def features(
    model: BayesianCNN, images: np.ndarray, batch_size: int = 512, compiled: bool = True
) -> np.ndarray:
    """Trunk features (before dropout): float32 [items, features]."""
    trunk, _ = _functions(model) if compiled else (model.trunk, model.head)
    images = as_image_batch(images)
    parts = [
        trunk(tf.constant(images[start : start + batch_size])).numpy()
        for start in range(0, len(images), batch_size)
    ]
    return (
        np.concatenate(parts) if parts else np.zeros((0, model.trunk.output.shape[-1]), np.float32)
    )


def head_samples(
    model: BayesianCNN,
    trunk_features: np.ndarray,
    samples: int,
    batch_size: int = 256,
    compiled: bool = True,
) -> dict[str, np.ndarray]:
    """Run only the dropout head `samples` times per item: {question: [items, answers, samples]}.

    `compiled=False` calls the Keras models directly (eager): for a model still being trained,
    whose weights change between calls, without caching a graph per training run.
    """
    _, head = _functions(model) if compiled else (model.trunk, model.head)
    keys = model.config.question_keys
    parts: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    for start in range(0, len(trunk_features), batch_size):
        chunk = trunk_features[start : start + batch_size]
        tiled = tf.repeat(tf.constant(chunk), repeats=samples, axis=0)  # [items*T, d]
        outputs = head(tiled)
        for key in keys:
            probabilities = outputs[key].numpy().reshape(len(chunk), samples, -1)
            parts[key].append(probabilities.transpose(0, 2, 1))
    return {
        key: (np.concatenate(parts[key]) if parts[key] else np.zeros((0, len(q.answers), samples)))
        for key, q in zip(keys, model.config.questions, strict=True)
    }


def mc_samples(
    model: BayesianCNN,
    images: np.ndarray,
    samples: int = 50,
    batch_size: int = 256,
    compiled: bool = True,
) -> dict[str, np.ndarray]:
    """MC dropout samples {question: float32 [items, answers, samples]}, trunk once per image and
    view: the samples are shared out over an ensemble's members (`model.members`) and, with
    `config.test_time_symmetries` 8, over the image's 8 symmetries (the mixture then averages
    over them). With a `config.calibration` (fitted per version, calibration.py), the samples
    are calibrated here, so that every consumer reads the calibrated ones."""
    if samples < 1:
        raise ValueError(f"Invalid value for samples: expected >= 1, received {samples}")
    if model.extra_members and samples >= len(model.members):
        shares = _shares(samples, len(model.members))
        parts = [
            _network_samples(member, images, share, batch_size, compiled)
            for member, share in zip(model.members, shares, strict=True)
        ]
        drawn = {key: np.concatenate([part[key] for part in parts], axis=-1) for key in parts[0]}
    else:
        drawn = _network_samples(model, images, samples, batch_size, compiled)
    return calibration.apply(drawn, model.config.calibration)


def _shares(samples: int, parts: int) -> np.ndarray:
    """`samples` shared out over `parts` as evenly as integers allow (50 over 8: 6, 6, 7, ...)."""
    return np.diff(np.linspace(0, samples, parts + 1).round().astype(int))


def _network_samples(model, images, samples, batch_size, compiled) -> dict[str, np.ndarray]:
    """One network's MC samples, shared out over its views."""
    views = symmetries(as_image_batch(images)) if model.config.test_time_symmetries == 8 else None
    if views is None or samples < 8:
        trunk_features = features(model, images, batch_size, compiled)
        return head_samples(model, trunk_features, samples, batch_size, compiled)
    shares = _shares(samples, 8)
    parts = [
        head_samples(
            model, features(model, view, batch_size, compiled), share, batch_size, compiled
        )
        for view, share in zip(views, shares, strict=True)
    ]
    return {key: np.concatenate([part[key] for part in parts], axis=-1) for key in parts[0]}


def symmetries(images: np.ndarray) -> list[np.ndarray]:
    """The 8 views [items, h, w, c] of square images: transposed or not, then each axis flipped
    or not (every 90-degree turn and mirror); the first is the image itself."""
    views = []
    for turned in (images, images.transpose(0, 2, 1, 3)):
        for flipped in (turned, turned[:, :, ::-1], turned[:, ::-1], turned[:, ::-1, ::-1]):
            views.append(np.ascontiguousarray(flipped))
    return views


def mc_samples_generic(
    model: BayesianCNN, images: np.ndarray, samples: int = 15, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """T full forward passes (any model whose dropout stays on): {question: [items, answers, samples]}."""
    images = as_image_batch(images)
    passes = [model.full.predict(images, batch_size=batch_size, verbose=0) for _ in range(samples)]
    return {key: np.stack([p[key] for p in passes], axis=-1) for key in model.config.question_keys}


def vote_nll(
    model: BayesianCNN,
    images: np.ndarray,
    counts: dict[str, np.ndarray],
    samples: int = 50,
    compiled: bool = True,
) -> float:
    """Mean vote NLL of the items' counts under the MC-dropout predictive, joint over the tree
    (NaN with no items). `compiled=False` for a model still being trained (see head_samples)."""
    from mlworker import outcomes

    if len(images) == 0:
        return float("nan")
    probabilities = mc_samples(model, images, samples=samples, compiled=compiled)
    return float(
        -outcomes.observed_log_likelihood(probabilities, counts, model.config.questions).mean()
    )
