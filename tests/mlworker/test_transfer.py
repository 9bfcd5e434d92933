"""Transfer: a source trunk behind the input adapter, frozen then fine-tuned, saved and reloaded
without the source's files."""

import shutil

import keras
import numpy as np
import pytest

from mlworker import registry, scoring, sources, training
from mlworker.layers import MatchChannels
from mlworker.model import SOURCE_LAYER, ModelConfig, build_model
from mlworker.training_settings import TrainingSettings

SMALL = dict(conv_filters=(8, 8, 16, 16), pool_after=(1, 3), dense_units=16)


@pytest.fixture(scope="module")
def source_version(tiny_galaxies, galaxy_questions, tmp_path_factory):
    """A 24 px greyscale version trained two epochs, saved as a round saves it."""
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, **SMALL)
    result = training.train(
        images[:100],
        {k: v[:100] for k, v in counts.items()},
        config,
        # train's former defaults, which this fixture was written with, but two epochs
        settings=TrainingSettings(
            epochs=2, batch_size=16, learning_rate=1e-3, patience=10, min_epochs=0, lr_patience=3
        ),
    )
    folder = tmp_path_factory.mktemp("source") / "v1"
    registry.save_model_version(folder, result.model, result.config, {})
    return folder, result.model


def rgb(images: np.ndarray, size: int) -> np.ndarray:
    """Greyscale [n, 24, 24] -> RGB [n, size, size, 3] (a survey with other images)."""
    resized = keras.ops.image.resize(images[..., None], (size, size)).numpy()
    return np.repeat(resized, 3, axis=-1)


def transferred_config(folder, galaxy_questions, **changes) -> ModelConfig:
    source = sources.version_source(folder, "source v1")
    settings = dict(image_size=32, channels=3, questions=galaxy_questions[:1], trunk_source=source)
    return ModelConfig(**{**settings, **changes})


def test_the_source_trunk_sees_the_new_images_resized_and_in_its_channels(
    source_version, tiny_galaxies, galaxy_questions
):
    folder, source = source_version
    images, _ = tiny_galaxies
    model = build_model(transferred_config(folder, galaxy_questions))
    assert model.trunk.get_layer("resize_to_source").output.shape[1:] == (24, 24, 1)
    assert model.trunk.get_layer("match_channels").output.shape[1:] == (32, 32, 1)
    # The new head answers the new project's questions, on the source's features.
    assert list(model.full.output) == ["smooth-or-featured"]
    # The pretrained weights arrived: on an RGB copy of its own images, the transferred trunk's
    # features are the source's (up to the resize there and back).
    new_features = scoring.features(model, rgb(images[:8], 32), compiled=False)
    old_features = scoring.features(source, images[:8], compiled=False)
    assert np.allclose(new_features, old_features, atol=0.15 * np.abs(old_features).max())
    assert not np.allclose(
        scoring.features(build_model(model.config, pretrained=False), rgb(images[:8], 32)),
        old_features,
        atol=0.15 * np.abs(old_features).max(),
    )


def test_rgb_to_greyscale_uses_luminance_and_greyscale_to_rgb_repeats():
    pixel = np.array([[[[1.0, 0.5, 0.0]]]], np.float32)
    assert np.isclose(float(MatchChannels(1)(pixel)[0, 0, 0, 0]), 0.299 + 0.5 * 0.587)
    assert MatchChannels(3)(pixel[..., :1]).numpy().tolist() == [[[[1.0, 1.0, 1.0]]]]
    with pytest.raises(ValueError, match="expected 1 or 3, received 2"):
        MatchChannels(2)


def trunk_and_head_weights(model):
    return (
        [w.copy() for w in model.trunk.get_layer(SOURCE_LAYER).get_weights()],
        [w.copy() for w in model.head.get_weights()],
    )


def test_the_trunk_is_frozen_while_the_new_head_learns_then_fine_tuned_at_a_lower_rate(
    source_version, tiny_galaxies, galaxy_questions
):
    folder, _ = source_version
    images, counts = tiny_galaxies
    config = transferred_config(folder, galaxy_questions)
    data = rgb(images[:120], 32), {"smooth-or-featured": counts["smooth-or-featured"][:120]}
    before_trunk, before_head = trunk_and_head_weights(build_model(config))
    split = dict(training_indices=np.arange(20, 120), validation_indices=np.arange(20))
    # batch 16 and rate patience 2: the values of train's former defaults this test ran with
    quick = dict(min_steps_per_epoch=4, learning_rate=1e-2, fine_tune_rate=0.1, patience=5)
    quick.update(batch_size=16, lr_patience=2)
    settings = TrainingSettings(frozen_epochs=2, epochs=0, **quick)

    head_only = training.train(*data, config, settings=settings, **split)
    trunk, head = trunk_and_head_weights(head_only.model)
    assert all(np.array_equal(a, b) for a, b in zip(trunk, before_trunk, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(head, before_head, strict=True))

    settings = TrainingSettings(frozen_epochs=2, epochs=2, **quick)
    both = training.train(*data, config, settings=settings, **split)
    trunk, _ = trunk_and_head_weights(both.model)
    assert not all(np.array_equal(a, b) for a, b in zip(trunk, before_trunk, strict=True))
    assert both.history["learning_rate"][:2] == pytest.approx([1e-2, 1e-2])
    assert both.history["learning_rate"][2:4] == pytest.approx([1e-3, 1e-3])
    assert both.model.trunk.get_layer(SOURCE_LAYER).trainable  # unfrozen for the next rounds


def test_a_saved_transferred_version_loads_after_the_source_folder_is_gone(
    source_version, tiny_galaxies, galaxy_questions, tmp_path
):
    folder, _ = source_version
    copy = tmp_path / "copy-of-source"
    shutil.copytree(folder, copy)
    images, counts = tiny_galaxies
    config = transferred_config(copy, galaxy_questions)
    data = rgb(images[:60], 32), {"smooth-or-featured": counts["smooth-or-featured"][:60]}
    settings = TrainingSettings(frozen_epochs=1, epochs=1, min_steps_per_epoch=2)
    result = training.train(*data, config, settings=settings)
    saved = registry.save_model_version(tmp_path / "v1", result.model, result.config, {})
    shutil.rmtree(copy)

    loaded, _, _ = registry.load_model_version(saved)
    assert np.array_equal(
        scoring.features(loaded, data[0][:4], compiled=False),
        scoring.features(result.model, data[0][:4], compiled=False),
    )
