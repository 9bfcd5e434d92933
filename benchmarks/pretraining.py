"""Learn from every image a project holds: a self-supervised trunk, before any vote (the levers
benchmark's `pretrained` lever; production does not pretrain, so this lives with the benchmarks).

The trunk is the network a fresh model would train (model.build_trunk: the convolutions and the
dense features), fitted without labels on all the project's images, labelled or not. It is saved
as a Keras file and becomes the starting model through production's transfer path
(mlworker/transfer.py, model.build_source_trunk): the vote head learns on it, then everything is
fine-tuned.

The method is SimCLR (Chen et al. 2020): each image's two views must be told apart from every other
image's in the batch (a projector on top, the normalised-temperature cross-entropy), with views
limited to the invariances the project declares, so that nothing a question may ask about (size,
brightness, colour) is taught away. SimSiam and a masked autoencoder, probed on one seed of the
synthetic galaxies, did worse than SimCLR and were taken out.

A view is the image under one of the square's 8 symmetries (rotation-invariant projects only), a
shift of up to `shift` pixels, and pixel noise. No crop-and-resize, no colour or contrast change.
"""

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mlworker import data
from mlworker.model import ModelConfig, build_trunk

METHODS = ("simclr",)


@dataclass(frozen=True)
class PretrainingSettings:
    method: str = "simclr"
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    shift: int = 3  # pixels a view may move by
    noise: float = 0.03  # standard deviation of the pixel noise a view gets
    temperature: float = 0.2  # of the cross-entropy over cosine similarities
    max_images: int = 20_000  # a larger project pretrains on a random sample of this many
    max_seconds: float = 1800.0  # stops after the epoch that passes this

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(
                f"Invalid pretraining method: expected one of {METHODS}, received {self.method!r}"
            )


@dataclass
class Pretrained:
    trunk: keras.Model  # image [size, size, channels] in [0, 1] -> features
    report: dict  # method, images, epochs, seconds, loss per epoch


def pretrain_trunk(
    images: np.ndarray,
    config: ModelConfig,
    *,
    settings: PretrainingSettings = PretrainingSettings(),
    rotation_invariant: bool = True,
    seed: int = 0,
) -> Pretrained:
    """Fit `config`'s trunk on unlabelled images [items, h, w(, c)] in [0, 1]."""
    images = data.as_image_batch(images)
    if len(images) < 2:
        raise ValueError(
            f"Not enough images to pretrain: expected at least 2, received {len(images)}"
        )
    rng = np.random.default_rng(seed)
    if len(images) > settings.max_images:
        images = images[rng.choice(len(images), settings.max_images, replace=False)]
    keras.utils.set_random_seed(seed)
    config = config.replace(
        pixel_mean=float(images.mean()), pixel_std=float(images.std()) or 1.0, trunk_source=None
    )
    trunk = build_trunk(config)
    step, variables = _training_step(trunk, settings, rotation_invariant)
    optimizer = keras.optimizers.Adam(settings.learning_rate)
    optimizer.build(variables)
    batches = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed)
    batches = batches.batch(min(settings.batch_size, len(images)), drop_remainder=True)
    started, losses = time.perf_counter(), []
    for epoch in range(settings.epochs):
        total, count = 0.0, 0
        for batch_index, batch in enumerate(batches):
            batch_seed = tf.constant([seed, epoch * 100_003 + batch_index], tf.int32)
            total += float(step(batch, batch_seed, optimizer))
            count += 1
        losses.append(round(total / max(count, 1), 5))
        if not np.isfinite(losses[-1]):
            raise FloatingPointError(f"Pretraining diverged: the loss became NaN at epoch {epoch}")
        if time.perf_counter() - started > settings.max_seconds:
            break
    report = {
        "method": settings.method,
        "images": int(len(images)),
        "epochs": len(losses),
        "seconds": round(time.perf_counter() - started, 1),
        "loss": losses,
        "rotation_invariant": bool(rotation_invariant),
    }
    return Pretrained(trunk=trunk, report=report)


def views(
    images: tf.Tensor, seed: tf.Tensor, *, rotation_invariant: bool, shift: int, noise: float
):
    """One random view per image [batch, h, w, c]: a symmetry (rotation-invariant projects), a shift
    of up to `shift` pixels (edges repeated), pixel noise; clipped to [0, 1]."""
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    batch = tf.shape(images)[0]
    if rotation_invariant and images.shape[1] == images.shape[2]:
        transpose = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
        images = tf.where(transpose, tf.transpose(images, [0, 2, 1, 3]), images)
        images = tf.image.stateless_random_flip_left_right(images, seeds[1])
        images = tf.image.stateless_random_flip_up_down(images, seeds[2])
    if shift:
        height, width = images.shape[1], images.shape[2]
        padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]], mode="SYMMETRIC")
        offsets = tf.random.stateless_uniform([batch, 2], seeds[3], 0, 2 * shift + 1, tf.int32)
        images = tf.map_fn(
            lambda pair: tf.slice(pair[0], [pair[1][0], pair[1][1], 0], [height, width, -1]),
            (padded, offsets),
            fn_output_signature=images.dtype,
        )
    images = images + noise * tf.random.stateless_normal(tf.shape(images), seeds[4])
    return tf.clip_by_value(images, 0.0, 1.0)


def _training_step(trunk: keras.Model, settings: PretrainingSettings, rotation_invariant: bool):
    """The method's compiled step(batch, seed, optimizer) -> loss, and the variables it trains."""
    width = int(trunk.output.shape[-1])
    projector = keras.Sequential(
        [keras.layers.Dense(2 * width, activation="relu"), keras.layers.Dense(width)],
        name="projector",
    )
    projector.build((None, width))
    variables = trunk.trainable_variables + projector.trainable_variables

    def view(batch, seed):
        return views(
            batch,
            seed,
            rotation_invariant=rotation_invariant,
            shift=settings.shift,
            noise=settings.noise,
        )

    @tf.function(reduce_retracing=True)
    def step(batch, seed, optimizer):
        # three streams, as when the screen in benchmarks/results/levers.json ran (two are used)
        seeds = tf.random.experimental.stateless_split(seed, num=3)
        with tf.GradientTape() as tape:
            first = projector(trunk(view(batch, seeds[0]), training=True), training=True)
            second = projector(trunk(view(batch, seeds[1]), training=True), training=True)
            loss = _contrastive(first, second, settings.temperature)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step, variables


def _contrastive(first: tf.Tensor, second: tf.Tensor, temperature: float) -> tf.Tensor:
    """NT-Xent over a batch's 2B views [B, d] each: a view's partner is the positive, the other
    2B - 2 views the negatives."""
    views_ = tf.math.l2_normalize(tf.concat([first, second], axis=0), axis=-1)
    count = tf.shape(first)[0]
    similarity = tf.matmul(views_, views_, transpose_b=True) / temperature
    similarity -= 1e9 * tf.eye(2 * count)  # a view is not its own positive
    partner = tf.concat([tf.range(count, 2 * count), tf.range(count)], axis=0)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=partner, logits=similarity)
    )
