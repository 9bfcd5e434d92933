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


# How many of an image's 8 symmetries a version scores it under in all (rotation-invariant projects,
# `config.test_time_symmetries` 8), dealt out over its networks so that they take different views
# (each network at least one); each view is one trunk pass. None: every network every view (8 per
# network, the default before issue 39's screen).
VIEWS: int | None = None


def mc_samples(
    model: BayesianCNN,
    images: np.ndarray,
    samples: int = 50,
    batch_size: int = 256,
    compiled: bool = True,
    views: int | None = VIEWS,
) -> dict[str, np.ndarray]:
    """MC dropout samples {question: float32 [items, answers, samples]}, trunk once per image and
    view: the samples are shared out over an ensemble's members (`model.members`) and, with
    `config.test_time_symmetries` 8, over `views` of the image's 8 symmetries dealt out over the
    members (`view_plan`; the mixture then averages over them). With a `config.calibration`
    (fitted per version, calibration.py), the samples are calibrated here, so that every consumer
    reads the calibrated ones."""
    drawn = ensemble_samples(model.members, images, samples, batch_size, compiled, views)
    return calibration.apply(drawn, model.config.calibration)


def ensemble_samples(
    networks: list[BayesianCNN],
    images: np.ndarray,
    samples: int,
    batch_size: int = 256,
    compiled: bool = True,
    views: int | None = VIEWS,
) -> dict[str, np.ndarray]:
    """Uncalibrated MC samples of networks pooled, each (network, view) of `view_plan` its share of
    the `samples`, in plan order: {question: [items, answers, samples]}."""
    if samples < 1:
        raise ValueError(f"Invalid value for samples: expected >= 1, received {samples}")
    images = as_image_batch(images)
    plan = view_plan(len(networks), networks[0].config.test_time_symmetries, views, samples)
    parts = []
    for (member, view), share in plan:
        network = networks[member]
        trunk_features = features(network, symmetry(images, view), batch_size, compiled)
        parts.append(head_samples(network, trunk_features, share, batch_size, compiled))
    return {key: np.concatenate([part[key] for part in parts], axis=-1) for key in parts[0]}


def view_plan(members: int, symmetries: int, views: int | None, samples: int) -> list:
    """[((member, view), samples)]: which network scores which view (an index into `symmetry`)
    with how many samples. With `symmetries` 8, `views` in all (None: 8 per member; at least one
    per member), member m taking its share of them in turn from view m * 8 // members, so that
    members take different views; with 1, each member the image itself. The samples are shared
    out as evenly as integers allow over the pairs, members alternating; with fewer samples than
    pairs, the first pairs in that order get one each."""
    if views is not None and views < 1:
        raise ValueError(f"Invalid value for views: expected >= 1 or None, received {views}")
    total = 8 * members if views is None else max(views, members)
    per_member = _shares(total, members) if symmetries == 8 else np.ones(members, dtype=int)
    per_member = np.minimum(per_member, 8)
    turned = 1 if symmetries == 8 else 0  # without symmetries, every network the image itself
    pairs = [
        (member, (member * 8 // members + turn) % 8 * turned)
        for turn in range(int(per_member.max()))
        for member in range(members)
        if turn < per_member[member]
    ][:samples]
    return list(zip(pairs, _shares(samples, len(pairs)).tolist(), strict=True))


def _shares(samples: int, parts: int) -> np.ndarray:
    """`samples` shared out over `parts` as evenly as integers allow (50 over 8: 6, 6, 7, ...)."""
    return np.diff(np.linspace(0, samples, parts + 1).round().astype(int))


def symmetry(images: np.ndarray, view: int) -> np.ndarray:
    """View `view` (0-7) of square images [items, h, w, c]: transposed when view >= 4, then with
    neither, the second, the first or both spatial axes flipped; view 0 is the image itself."""
    turned = images.transpose(0, 2, 1, 3) if view >= 4 else images
    flipped = (turned, turned[:, :, ::-1], turned[:, ::-1], turned[:, ::-1, ::-1])[view % 4]
    return flipped if view == 0 else np.ascontiguousarray(flipped)


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
