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


def augment(image: tf.Tensor, *, rotation_invariant: bool, seed: tf.Tensor) -> tf.Tensor:
    """Random flips and 90-degree rotations (rotation-invariant images only), small zoom, contrast.

    image: [h, w, c]; seed: int32 [2] (stateless ops, so a run is reproducible).
    """
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    if rotation_invariant:
        image = tf.image.stateless_random_flip_left_right(image, seeds[0])
        image = tf.image.stateless_random_flip_up_down(image, seeds[1])
        turns = tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32)
        image = tf.image.rot90(image, k=turns)
    size = tf.shape(image)[:2]
    scale = tf.random.stateless_uniform([], seeds[3], 0.9, 1.0)
    crop = tf.cast(tf.cast(size, tf.float32) * scale, tf.int32)
    offset = (size - crop) // 2
    image = tf.image.crop_to_bounding_box(image, offset[0], offset[1], crop[0], crop[1])
    image = tf.image.resize(image, size)
    image = tf.image.stateless_random_contrast(image, 0.9, 1.1, seeds[4])
    return tf.clip_by_value(image, 0.0, 1.0)


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
    if augment_images:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda pair, item_seed: (
                augment(
                    pair[0],
                    rotation_invariant=rotation_invariant,
                    seed=tf.cast(item_seed, tf.int32),
                ),
                pair[1],
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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
