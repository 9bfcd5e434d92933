import keras
import numpy as np
import pytest

from mlworker import metrics, registry, scoring, training
from mlworker.model import ModelConfig
from mlworker.training_settings import TrainingSettings

SMALL = dict(conv_filters=(16, 16, 32, 32), pool_after=(1, 3), dense_units=64)


SPLIT = dict(training_indices=np.arange(60, 300), validation_indices=np.arange(60))


@pytest.fixture(scope="module")
def trained(tiny_galaxies, galaxy_questions):
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, training_masks=4, **SMALL)
    settings = TrainingSettings(epochs=8, patience=8)
    return training.train(images, counts, config, settings=settings, seed=0, **SPLIT)


def test_a_few_epochs_on_synthetic_galaxies_lower_the_validation_nll(trained):
    validation_nll = trained.history["val_nll"]
    assert min(validation_nll[-3:]) < validation_nll[0] * 0.97


def test_a_small_set_still_gets_the_floor_of_optimizer_steps(tiny_galaxies, galaxy_questions):
    images, counts = tiny_galaxies

    class CountSteps(keras.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            CountSteps.steps += 1

    config = ModelConfig(image_size=24, questions=galaxy_questions, **SMALL)
    training.train(
        images[:40],
        {key: value[:40] for key, value in counts.items()},
        config,
        settings=TrainingSettings(epochs=2, batch_size=32, min_steps_per_epoch=7),
        callbacks=(CountSteps(),),
    )
    assert CountSteps.steps == 14  # 40 items at batch 32 would be 2 steps an epoch


def test_a_fresh_model_trains_its_minimum_epochs_and_a_warm_start_may_stop_at_once(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    # Validation votes that contradict the images: the validation NLL rises as the model learns,
    # so early stopping (patience 1) wants to stop after the second epoch.
    misleading = {key: value[:, ::-1].copy() for key, value in counts.items()}
    mixed = {key: np.concatenate([misleading[key][:40], counts[key][40:]]) for key in counts}
    config = ModelConfig(image_size=24, questions=galaxy_questions, training_masks=2, **SMALL)
    split = dict(training_indices=np.arange(40, 200), validation_indices=np.arange(40))
    settings = TrainingSettings(
        epochs=6,
        min_epochs=4,
        batch_size=32,
        min_steps_per_epoch=5,
        patience=1,
        lr_patience=2,
        learning_rate=1e-3,
    )
    quick = dict(settings=settings, seed=0, **split)
    fresh = training.train(images, mixed, config, **quick)
    assert fresh.epochs_run >= 4  # not stopped before its fourth epoch
    warm = training.train(images, mixed, config, warm_start=fresh.model, **quick)
    assert warm.epochs_run < 5, warm.history["val_nll"]


def test_the_best_epoch_is_restored_even_when_it_came_before_the_minimum_epochs():
    """Keras' EarlyStopping(start_from_epoch) never restores an epoch before its start: a first
    model that was best early came back overfitted."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    keep = training.KeepBest("val_nll", patience=2, min_epochs=5)
    keep.set_model(model)
    model.stop_training = False  # fit() sets it; this test calls the callback by hand
    history = [3.0, 1.0, 2.0, 2.5, 2.6, 2.7, 2.8]
    for epoch, value in enumerate(history):
        model.layers[0].bias.assign([float(epoch)])  # the weights tell which epoch they are from
        keep.on_epoch_end(epoch, {"val_nll": value})
        if model.stop_training:
            break
    assert epoch == 4  # best at epoch 1, patience 2 passed at epoch 3, but the minimum is 5 epochs
    keep.on_train_end()
    assert float(model.layers[0].bias.numpy()[0]) == 1.0


def test_model_beats_predicting_the_mean_on_held_out_subjects(trained, tiny_galaxies):
    images, counts = tiny_galaxies
    held_out = trained.validation_indices
    samples = scoring.mc_samples(trained.model, images[held_out], samples=15)
    report = metrics.evaluate(samples, {key: value[held_out] for key, value in counts.items()})
    fractions = counts["smooth-or-featured"][held_out] / 15.0
    constant_rmse = np.sqrt(np.mean((fractions - fractions.mean(axis=0)) ** 2))
    assert report["smooth-or-featured"]["rmse"] < constant_rmse
    coverage = report["smooth-or-featured"]["coverage"]
    assert coverage["50"] < coverage["80"] < coverage["95"] and coverage["95"] > 0.6


def test_warm_start_begins_where_the_previous_model_ended(trained, tiny_galaxies, galaxy_questions):
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, **SMALL)
    one_epoch = TrainingSettings(epochs=1, min_steps_per_epoch=5)
    warm = training.train(
        images, counts, config, settings=one_epoch, seed=0, warm_start=trained.model, **SPLIT
    )
    cold = training.train(images, counts, config, settings=one_epoch, seed=0, **SPLIT)
    assert warm.history["val_nll"][0] < cold.history["val_nll"][0]


def test_registry_round_trip_gives_identical_predictions(trained, tmp_path, tiny_galaxies):
    images, _ = tiny_galaxies
    folder = registry.save_model_version(
        tmp_path / "v1", trained.model, trained.config, {"nll": 1.0}
    )
    loaded, config, saved_metrics = registry.load_model_version(folder)
    assert saved_metrics == {"nll": 1.0} and config == trained.config
    np.testing.assert_allclose(
        loaded.trunk.predict(images[:5], verbose=0),
        trained.model.trunk.predict(images[:5], verbose=0),
        rtol=1e-5,
    )


def test_a_crash_mid_save_leaves_the_previous_version_loadable(trained, tmp_path, monkeypatch):
    registry.save_model_version(tmp_path / "v1", trained.model, trained.config, {"version": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(trained.model.full, "save_weights", crash)
    with pytest.raises(OSError, match="simulated"):
        registry.save_model_version(tmp_path / "v2", trained.model, trained.config, {"version": 2})
    assert not (tmp_path / "v2").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["v1"]
    _, _, saved = registry.load_model_version(tmp_path / "v1")
    assert saved == {"version": 1}


def test_a_diverging_run_stops_with_an_error_instead_of_a_nan_model(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, **SMALL)

    class PoisonWeights(keras.callbacks.Callback):
        """Simulates divergence: an output layer's weights turn NaN after the third batch."""

        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                weights = self.model.get_weights()
                weights[-1] = weights[-1] * np.nan  # an output bias: nothing downstream masks it
                self.model.set_weights(weights)

    with pytest.raises(FloatingPointError, match="NaN at epoch 1, batch 4"):
        training.train(
            images,
            counts,
            config,
            settings=TrainingSettings(epochs=3, batch_size=32),
            callbacks=(PoisonWeights(),),
        )


def test_images_with_nan_pixels_are_refused_before_training(tiny_galaxies, galaxy_questions):
    images, counts = tiny_galaxies
    config = ModelConfig(image_size=24, questions=galaxy_questions, **SMALL)
    broken = images.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN/inf pixels"):
        training.train(broken, counts, config, settings=TrainingSettings(epochs=1))


def test_augmentation_keeps_orientation_unless_images_are_rotation_invariant():
    import tensorflow as tf

    from mlworker.data import augment

    image = np.zeros((16, 16, 1), np.float32)
    image[2:14, 7:9] = 1.0  # a vertical bar
    batch = tf.constant(np.repeat(image[None], 20, axis=0))
    fixed = augment(batch, rotation_invariant=False, seed=tf.constant([3, 1])).numpy()
    free = augment(batch, rotation_invariant=True, seed=tf.constant([3, 1])).numpy()
    for one in fixed:
        assert one[:, 7:9].sum() > 4 * one[7:9, :].sum() - 1e-6  # still vertical
    turned = sum(one[7:9, :].sum() > one[:, 7:9].sum() for one in free)
    assert 0 < turned < 20  # each image draws its own turn: some come out horizontal, not all
