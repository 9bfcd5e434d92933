"""Input: image files to arrays, and tf.data pipelines with training-only augmentation."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image


def load_image_files(paths: Sequence[str | Path], image_size: int, channels: int = 1) -> np.ndarray:
    """Decode, convert (greyscale or RGB) and resize image files.

    Returns float32 [items, image_size, image_size, channels] in [0, 1].
    """
    if channels not in (1, 3):
        raise ValueError(f"Invalid value for channels: expected 1 or 3, received {channels}")
    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(paths), image_size, image_size, channels), dtype=np.float32)
    for index, path in enumerate(paths):
        with Image.open(path) as image:
            resized = image.convert(mode).resize((image_size, image_size), Image.BILINEAR)
            array = np.asarray(resized, dtype=np.float32) / 255.0
        images[index] = array.reshape(image_size, image_size, channels)
    return images


def as_image_batch(images: np.ndarray) -> np.ndarray:
    """Accept [items, h, w] or [items, h, w, c]; return float32 [items, h, w, c]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            f"Invalid images: expected shape [items, h, w] or [items, h, w, c], received {images.shape}"
        )
    return images


def augment(images: tf.Tensor, *, rotation_invariant: bool, seed: tf.Tensor) -> tf.Tensor:
    """A batch's random symmetries (rotation-invariant images only), small zoom and contrast.

    images: [batch, h, w, c]; seed: int32 [2] (stateless ops, so a run is reproducible). Each
    image draws its own: one of the square's 8 symmetries (a transpose or not, then a flip of each
    axis or not — every 90-degree turn and mirror), a centred crop of 90-100% resized back, and a
    contrast factor in [0.9, 1.1]. Whole-batch operations: per-image ones cost more than the
    training step on small images.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    batch = tf.shape(images)[0]
    size = tf.shape(images)[1:3]
    if rotation_invariant:
        if images.shape[1] == images.shape[2]:  # a transpose only keeps the shape of a square
            transpose = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
            images = tf.where(transpose, tf.transpose(images, [0, 2, 1, 3]), images)
        images = tf.image.stateless_random_flip_left_right(images, seeds[1])
        images = tf.image.stateless_random_flip_up_down(images, seeds[2])
    half = tf.random.stateless_uniform([batch], seeds[3], 0.9, 1.0) / 2
    boxes = tf.stack([0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half], axis=1)
    images = tf.image.crop_and_resize(images, boxes, tf.range(batch), size)
    factor = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[4], 0.9, 1.1)
    mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    return tf.clip_by_value((images - mean) * factor + mean, 0.0, 1.0)


def _targets(counts):
    if isinstance(counts, dict):
        return {key: np.asarray(value, np.float32) for key, value in counts.items()}
    return np.asarray(counts, np.float32)


def training_dataset(
    images: np.ndarray,
    counts: dict[str, np.ndarray] | np.ndarray,
    *,
    batch_size: int,
    seed: int,
    augment_images: bool = True,
    rotation_invariant: bool = True,
) -> tf.data.Dataset:
    """(image [h, w, c], {question: counts [answers]}) batches; cached, shuffled, augmented, prefetched."""
    dataset = tf.data.Dataset.from_tensor_slices((as_image_batch(images), _targets(counts))).cache()
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment_images:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda pair, batch_seed: (
                augment(
                    pair[0],
                    rotation_invariant=rotation_invariant,
                    seed=tf.cast(batch_seed, tf.int32),
                ),
                pair[1],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(images: np.ndarray, counts: dict[str, np.ndarray], *, batch_size: int):
    return (
        tf.data.Dataset.from_tensor_slices(
            (
                as_image_batch(images),
                {key: np.asarray(value, np.float32) for key, value in counts.items()},
            )
        )
        .batch(batch_size)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
