"""Self-supervised trunks (benchmarks/pretraining.py, the levers benchmark's) on tiny images."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import pretraining
from mlworker.model import ModelConfig
from mlworker.questions import independent

SMALL = dict(conv_filters=(8, 8), pool_after=(0, 1), dense_units=16)


def tiny_images(count: int = 64, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    radius = rng.uniform(2, 6, count)[:, None, None]
    return (np.hypot(y - size / 2, x - size / 2) < radius).astype(np.float32) * 0.8


def test_a_view_without_symmetries_shift_or_noise_is_the_image_itself():
    images = tf.constant(np.random.default_rng(1).random((4, 8, 8, 1)), tf.float32)
    seed = tf.constant([3, 4], tf.int32)
    same = pretraining.views(images, seed, rotation_invariant=False, shift=0, noise=0.0)
    np.testing.assert_allclose(same.numpy(), images.numpy())


def test_views_of_a_rotation_invariant_project_turn_and_mirror_but_keep_every_pixel():
    image = np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1) / 64
    batch = tf.constant(np.repeat(image, 32, axis=0))
    seen = pretraining.views(
        batch, tf.constant([0, 1]), rotation_invariant=True, shift=0, noise=0.0
    )
    seen = seen.numpy()
    assert len({view.tobytes() for view in seen}) > 1  # some views differ from the image
    for view in seen:  # each is one of the square's symmetries: the same pixels, rearranged
        np.testing.assert_allclose(np.sort(view.ravel()), np.sort(image.ravel()))


def test_the_contrastive_loss_is_lower_when_each_view_meets_its_partner():
    rng = np.random.default_rng(2)
    first = tf.constant(rng.normal(size=(16, 8)), tf.float32)
    second = first + 0.05 * tf.constant(rng.normal(size=(16, 8)), tf.float32)
    matched = float(pretraining._contrastive(first, second, 0.2))
    shuffled = float(pretraining._contrastive(first, tf.roll(second, 1, axis=0), 0.2))
    assert matched < shuffled


@pytest.mark.parametrize("method", pretraining.METHODS)
def test_a_trunk_pretrains_on_unlabelled_images_and_gives_features(method):
    config = ModelConfig(image_size=16, questions=independent(1), **SMALL)
    settings = pretraining.PretrainingSettings(method=method, epochs=2, batch_size=16)
    done = pretraining.pretrain_trunk(tiny_images(), config, settings=settings, seed=0)
    assert done.report["epochs"] == 2 and done.report["images"] == 64
    assert all(np.isfinite(done.report["loss"]))
    features = done.trunk(tiny_images(4)[..., None]).numpy()
    assert features.shape == (4, 16) and np.all(np.isfinite(features))


def test_an_unknown_method_is_refused_with_what_was_received():
    with pytest.raises(ValueError, match="received 'rotnet'"):
        pretraining.PretrainingSettings(method="rotnet")
