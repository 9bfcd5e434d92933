import keras
import numpy as np

from mlworker import scoring
from mlworker.model import ModelConfig, build_model


def tiny_model(galaxy_questions, dropout_rate=0.5):
    config = ModelConfig(
        image_size=16,
        questions=galaxy_questions,
        conv_filters=(8, 8, 16),
        pool_after=(1, 2),
        dense_units=32,
        dropout_rate=dropout_rate,
    )
    model = build_model(config)
    # Output kernels start at zero (an untrained model predicts the mean fractions, whatever the
    # mask): give them weights, as training would, so the masks matter.
    rng = np.random.default_rng(9)
    model.head.set_weights([rng.normal(0, 0.5, w.shape) for w in model.head.get_weights()])
    return model


def test_an_untrained_model_predicts_the_mean_vote_fractions(galaxy_questions):
    config = ModelConfig(
        image_size=16,
        questions=galaxy_questions,
        conv_filters=(8,),
        pool_after=(0,),
        dense_units=8,
        initial_log_fractions={"smooth-or-featured": np.log([0.7, 0.3]).tolist()},
    )
    images = np.random.default_rng(3).random((5, 16, 16, 1)).astype("float32")
    samples = scoring.mc_samples(build_model(config), images, samples=4)
    np.testing.assert_allclose(samples["smooth-or-featured"][:, 0, :], 0.7, atol=1e-6)


def test_two_predictions_of_the_same_image_differ(galaxy_questions):
    model = tiny_model(galaxy_questions)
    images = np.random.default_rng(0).random((4, 16, 16, 1)).astype("float32")
    first = model.full.predict(images, verbose=0)["smooth-or-featured"]
    second = model.full.predict(images, verbose=0)["smooth-or-featured"]
    assert not np.allclose(first, second)
    direct = model.full(images)["bar"].numpy()
    assert not np.allclose(direct, model.full(images)["bar"].numpy())


def test_trunk_is_deterministic_and_outputs_are_distributions(galaxy_questions):
    model = tiny_model(galaxy_questions)
    images = np.random.default_rng(1).random((3, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(
        model.trunk.predict(images, verbose=0), model.trunk.predict(images, verbose=0)
    )
    samples = scoring.mc_samples(model, images, samples=7)
    assert samples["edge-on"].shape == (3, 2, 7)
    np.testing.assert_allclose(samples["bar"].sum(axis=1), 1.0, atol=1e-5)


def test_trunk_once_path_and_generic_path_give_the_same_distribution(galaxy_questions):
    # Seeded: twelve comparisons at about 2.5 standard errors each failed about one run in ten.
    keras.utils.set_random_seed(3)
    model = tiny_model(galaxy_questions)
    images = np.random.default_rng(2).random((6, 16, 16, 1)).astype("float32")
    fast = scoring.mc_samples(model, images, samples=400)["smooth-or-featured"][:, 0, :]
    # 400 generic draws per image too, as 10 passes over 40 copies of each (every item of a batch
    # draws its own dropout mask): 10 predict calls instead of 400.
    copies = np.tile(images, (40, 1, 1, 1))  # item k is image k % 6
    generic = scoring.mc_samples_generic(model, copies, samples=10)["smooth-or-featured"][:, 0, :]
    generic = generic.reshape(40, 6, 10).transpose(1, 0, 2).reshape(6, 400)
    # Same mean and spread per image within Monte Carlo tolerance, and truly random (spread > 0).
    np.testing.assert_allclose(fast.mean(axis=1), generic.mean(axis=1), atol=0.02)
    np.testing.assert_allclose(fast.std(axis=1), generic.std(axis=1), atol=0.02)
    assert np.all(fast.std(axis=1) > 1e-4)


def test_config_round_trips_through_a_dict(galaxy_questions):
    config = ModelConfig(image_size=32, questions=galaxy_questions, pixel_mean=0.2, pixel_std=0.3)
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_scored_under_the_eight_symmetries_an_image_and_its_turn_get_the_same_samples(
    galaxy_questions,
):
    model = tiny_model(galaxy_questions, dropout_rate=0.0)  # a deterministic head
    image = np.random.default_rng(4).random((1, 16, 16, 1)).astype("float32")
    turned = np.rot90(image, axes=(1, 2)).copy()
    once = scoring.mc_samples(model, np.concatenate([image, turned]), samples=16)["bar"][:, 0]
    assert not np.allclose(np.sort(once[0]), np.sort(once[1]), atol=1e-4)  # one view: they differ
    model.config = model.config.replace(test_time_symmetries=8)
    both = scoring.mc_samples(model, np.concatenate([image, turned]), samples=16)["bar"][:, 0]
    assert both.shape == (2, 16)
    np.testing.assert_allclose(np.sort(both[0]), np.sort(both[1]), atol=1e-5)
    assert scoring.mc_samples(model, image, samples=50)["bar"].shape == (1, 2, 50)


def test_the_views_are_dealt_out_so_that_two_networks_take_different_ones():
    # Two views in all: the first network the image itself, the second its transpose.
    assert scoring.view_plan(2, 8, 2, 15) == [((0, 0), 8), ((1, 4), 7)]
    # Eight: four each, none shared; every network every view (None) at T = 50.
    eight = [pair for pair, _ in scoring.view_plan(2, 8, 8, 48)]
    assert sorted(view for _, view in eight) == list(range(8))
    every = scoring.view_plan(2, 8, None, 50)
    assert sorted(pair for pair, _ in every) == [(m, v) for m in (0, 1) for v in range(8)]
    assert sum(share for _, share in every) == 50 and min(share for _, share in every) == 3
    # Fewer samples than pairs: one sample each for the first pairs, networks alternating.
    assert scoring.view_plan(2, 8, None, 3) == [((0, 0), 1), ((1, 4), 1), ((0, 1), 1)]
    # Without symmetries each network scores the image itself, whatever `views` says.
    assert scoring.view_plan(2, 1, 8, 10) == [((0, 0), 5), ((1, 0), 5)]


def test_two_networks_under_two_views_score_the_image_and_its_transpose(galaxy_questions):
    model = tiny_model(galaxy_questions, dropout_rate=0.0)  # a deterministic head
    model.config = model.config.replace(test_time_symmetries=8, members=2)
    twin = build_model(model.config)
    twin.full.set_weights(model.full.get_weights())  # the same network twice
    model.extra_members = [twin]
    image = np.random.default_rng(5).random((1, 16, 16, 1)).astype("float32")
    samples = scoring.mc_samples(model, image, samples=6, views=2)["bar"][0, 0]
    alone = scoring.mc_samples(twin, image, samples=1, views=1)["bar"][0, 0, 0]
    transposed = image.transpose(0, 2, 1, 3)
    turned = scoring.mc_samples(twin, transposed, samples=1, views=1)["bar"][0, 0, 0]
    assert not np.isclose(alone, turned, atol=1e-4)  # the views differ for this network
    np.testing.assert_allclose(samples, [alone] * 3 + [turned] * 3, atol=1e-5)
