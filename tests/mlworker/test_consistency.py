"""Consistency on unlabelled images (consistency.py): its loss, and training with it."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import entropy

from mlworker import consistency, training
from mlworker.model import ModelConfig
from mlworker.training_settings import TrainingSettings

SMALL = dict(conv_filters=(16, 16, 32, 32), pool_after=(1, 3), dense_units=32)


def test_the_disagreement_is_the_kl_divergence_summed_over_questions_and_averaged_over_items():
    rng = np.random.default_rng(0)
    first = {"a": rng.dirichlet([1, 1], 5), "b": rng.dirichlet([1, 2, 3], 5)}
    second = {"a": rng.dirichlet([1, 1], 5), "b": rng.dirichlet([1, 2, 3], 5)}
    expected = np.mean([sum(entropy(first[q][i], second[q][i]) for q in first) for i in range(5)])
    as_tensors = {key: tf.constant(value, tf.float32) for key, value in first.items()}
    others = {key: tf.constant(value, tf.float32) for key, value in second.items()}
    assert float(consistency.view_disagreement(as_tensors, others)) == pytest.approx(
        expected, rel=1e-4
    )
    assert float(consistency.view_disagreement(as_tensors, as_tensors)) == pytest.approx(
        0, abs=1e-5
    )


def test_the_first_view_is_the_target_and_only_the_second_is_pulled():
    first = {"a": tf.Variable([[0.3, 0.7]])}
    second = {"a": tf.Variable([[0.6, 0.4]])}
    with tf.GradientTape() as tape:
        loss = consistency.view_disagreement({"a": first["a"] * 1.0}, {"a": second["a"] * 1.0})
    to_first, to_second = tape.gradient(loss, [first["a"], second["a"]])
    assert to_first is None and np.any(to_second.numpy() != 0)


def test_training_with_unlabelled_images_adds_their_agreement_to_each_step(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, training_masks=2, **SMALL)
    settings = TrainingSettings(
        epochs=2, min_epochs=0, min_steps_per_epoch=4, consistency_weight=1.0
    )
    split = dict(training_indices=np.arange(40, 100), validation_indices=np.arange(40))
    result = training.train(images, counts, config, settings=settings, unlabelled=images, **split)
    assert len(result.history["consistency"]) == 2
    assert all(np.isfinite(result.history["consistency"])) and result.history["consistency"][-1] > 0
    assert np.isfinite(result.history["val_nll"]).all()
    plain = training.train(
        images, counts, config, settings=TrainingSettings(epochs=1, min_epochs=0), **split
    )
    assert "consistency" not in plain.history  # without the setting, labelled images alone
