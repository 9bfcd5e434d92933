"""The functions a round runs (tasks and benchmarks alike): split, fit + judge, score."""

from dataclasses import replace

import numpy as np
import pytest

from mlworker import pipeline, registry, scoring
from mlworker.training_settings import TrainingSettings

QUICK = TrainingSettings(epochs=3, min_steps_per_epoch=5, patience=3, fresh_restarts=1, members=1)


@pytest.fixture(scope="module")
def quick_fit(tiny_galaxies, galaxy_questions):
    """A first version fitted on the tiny galaxies (keys 0..299), for the tests that only read it."""
    images, counts = tiny_galaxies
    config = pipeline.model_config(galaxy_questions, image_size=24)
    return pipeline.fit_and_evaluate(
        images, counts, range(len(images)), config, settings=QUICK, samples=10
    )


def test_a_subject_keeps_its_role_for_good_as_the_labelled_set_grows():
    first = pipeline.split_roles(range(200))
    later = pipeline.split_roles([*range(1000), *range(200)][::-1])
    by_key = dict(zip([*range(1000), *range(200)][::-1], later, strict=True))
    assert [by_key[key] for key in range(200)] == first.tolist()


def test_roles_take_their_shares():
    roles = pipeline.split_roles(range(20000), validation_share=0.15, held_out_share=0.1)
    assert np.mean(roles == "validation") == pytest.approx(0.15, abs=0.01)
    assert np.mean(roles == "held_out") == pytest.approx(0.1, abs=0.01)


def test_impossible_shares_are_refused_with_what_was_received():
    with pytest.raises(ValueError, match="validation \\+ held-out < 1, received 1.1"):
        pipeline.split_roles(range(3), validation_share=0.6, held_out_share=0.5)


def test_held_out_subjects_are_never_trained_on_and_are_judged_beside_the_baseline(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    keys = [f"subject-{index}" for index in range(len(images))]
    config = pipeline.model_config(galaxy_questions, image_size=24)
    fit = pipeline.fit_and_evaluate(images, counts, keys, config, settings=QUICK, samples=10)
    roles = pipeline.split_roles(keys)
    assert set(fit.training.training_indices) == set(np.flatnonzero(roles == "train"))
    assert set(fit.training.validation_indices) == set(np.flatnonzero(roles == "validation"))
    held_out = fit.metrics["_held_out"]
    assert held_out["items"] == np.sum(roles == "held_out") > 0
    assert held_out["nll"] > 0 and held_out["baseline_nll"] > 0
    assert fit.worse_than_baseline == held_out["worse"]
    assert held_out["difference_se"] > 0


def test_one_confident_miss_among_better_subjects_does_not_mark_a_version_worse():
    """Better than the baseline on 13 of 14 subjects, 40 nats off on one: the mean is higher, but
    the paired evidence says nothing (the case that flagged good first models)."""
    baseline_nll = np.full(14, 4.0)
    model_nll = np.concatenate([np.full(13, 2.5), [44.0]])
    assert model_nll.mean() > baseline_nll.mean()
    assert not pipeline.judge(model_nll, baseline_nll)["worse"]


def test_a_version_worse_on_most_subjects_is_marked_worse():
    rng = np.random.default_rng(0)
    baseline_nll = rng.uniform(1, 6, 14)
    judged = pipeline.judge(baseline_nll + rng.normal(0.5, 0.3, 14), baseline_nll)
    assert judged["worse"] and judged["difference_se"] == pytest.approx(0.3 / np.sqrt(14), rel=0.5)
    assert not pipeline.judge(baseline_nll - 0.5, baseline_nll)["worse"]
    assert pipeline.judge(np.array([3.0]), np.array([2.0]))["worse"]  # one subject: its sign


def test_a_fresh_network_keeps_the_restart_with_the_lowest_validation_nll_a_warm_one_trains_once(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    config = pipeline.model_config(galaxy_questions, image_size=24)
    settings = TrainingSettings(
        epochs=2, min_steps_per_epoch=3, patience=2, fresh_restarts=3, members=1
    )
    fresh = pipeline.fit_and_evaluate(
        images, counts, range(len(images)), config, settings=settings, samples=10
    )
    restarts = fresh.metrics["_restarts"]
    assert len(restarts["validation_nll"]) == 3
    assert len(set(restarts["validation_nll"])) == 3  # different initialisations, different fits
    assert restarts["kept"] == int(np.argmin(restarts["validation_nll"]))
    warm = pipeline.fit_and_evaluate(
        images,
        counts,
        range(len(images)),
        config,
        settings=settings,
        samples=10,
        warm_start=fresh.model,
    )
    assert len(warm.metrics["_restarts"]["validation_nll"]) == 1


def test_a_model_that_cannot_see_anything_is_marked_worse_than_the_baseline(galaxy_questions):
    """Identical images, votes all-or-nothing: the best the CNN can do is the mean fraction, which
    the beta-binomial (it knows votes come in lumps) beats by far."""
    rng = np.random.default_rng(0)
    items = 160
    images = np.full((items, 16, 16), 0.5, dtype=np.float32)
    featured = rng.random(items) < 0.4
    counts = {
        "smooth-or-featured": np.stack([np.where(featured, 0, 15), np.where(featured, 15, 0)], 1),
        "edge-on": np.stack([np.zeros(items), np.where(featured, 15, 0)], 1).astype(int),
        "bar": np.stack([np.where(featured, 15, 0), np.zeros(items)], 1).astype(int),
    }
    config = pipeline.model_config(galaxy_questions, image_size=16)
    fit = pipeline.fit_and_evaluate(
        images, counts, range(items), config, settings=QUICK, samples=10
    )
    assert fit.worse_than_baseline
    # The calibration's overdispersion lets its samples reach both extremes (nearer by more than 0.7 nats here),
    # but votes in lumps are the beta-binomial's own shape: it still wins by more than a nat.
    assert fit.metrics["_calibration"]["method"] == "overdispersion"
    assert max(fit.metrics["_calibration"]["noise"].values()) > 0
    assert fit.metrics["_held_out"]["nll"] > fit.metrics["_held_out"]["baseline_nll"] + 1


def test_scoring_ranks_by_joint_mi_or_by_entropy(tiny_galaxies, quick_fit):
    images, _ = tiny_galaxies
    fit = quick_fit
    bald = pipeline.score(fit.model, images[:20], volunteers=15, samples=12, strategy="bald")
    entropy = pipeline.score(fit.model, images[:20], volunteers=15, samples=12, strategy="entropy")
    assert bald.samples["bar"].shape == (20, 2, 12) and bald.exact
    np.testing.assert_array_equal(bald.scores, bald.mutual_information)
    np.testing.assert_array_equal(entropy.scores, entropy.predictive_entropy)
    assert np.all(bald.predictive_entropy >= bald.mutual_information)


def test_the_latest_version_not_worse_than_the_baseline_steers():
    assert pipeline.steering_version([False, False, True]) == 1
    assert pipeline.steering_version([True, False, False]) == 2
    assert pipeline.steering_version([True, True]) is None
    assert pipeline.steering_version([]) is None


def test_a_version_of_two_members_shares_the_mc_samples_between_them(
    tiny_galaxies, galaxy_questions
):
    images, counts = tiny_galaxies
    config = pipeline.model_config(galaxy_questions, image_size=24)
    settings = replace(QUICK, members=2)
    fit = pipeline.fit_and_evaluate(
        images, counts, range(len(images)), config, settings=settings, samples=10
    )
    assert fit.config.members == 2 and len(fit.model.members) == 2
    assert [member["epochs"] > 0 for member in fit.metrics["_members"]] == [True, True]
    # Member 2 made certain of "smooth": the second half of the samples is its, the first not.
    output = fit.model.extra_members[0].head.get_layer("answers_smooth-or-featured")
    kernel, bias = output.get_weights()
    output.set_weights([np.zeros_like(kernel), np.array([20.0, -20.0], dtype=bias.dtype)])
    samples = scoring.mc_samples(fit.model, images[:30], samples=10)["smooth-or-featured"]
    assert samples.shape == (30, 2, 10)
    assert np.all(samples[:, 0, 5:] > 0.999) and not np.all(samples[:, 0, :5] > 0.999)


def test_an_ensemble_is_saved_and_loaded_whole_and_warm_starts_member_by_member(
    tiny_galaxies, galaxy_questions, tmp_path
):
    images, counts = tiny_galaxies
    config = pipeline.model_config(galaxy_questions, image_size=24, rotation_invariant=True)
    assert config.test_time_symmetries == 8
    fit = pipeline.fit_and_evaluate(
        images, counts, range(len(images)), config, settings=replace(QUICK, members=2), samples=8
    )
    folder = registry.save_model_version(tmp_path / "v1", fit.model, fit.config, fit.metrics)
    assert {path.name for path in folder.iterdir()} >= {"model.weights.h5", "member-1.weights.h5"}
    loaded, loaded_config, _ = registry.load_model_version(folder)
    assert loaded_config.members == 2 and loaded_config.test_time_symmetries == 8
    for saved, restored in zip(fit.model.members, loaded.members, strict=True):
        np.testing.assert_allclose(
            scoring.features(saved, images[:5]), scoring.features(restored, images[:5]), rtol=1e-5
        )
    starts = pipeline._member_starts(folder, 3)  # a third member starts from the last one
    expected = [0, 1, 1]
    for start, index in zip(starts, expected, strict=True):
        np.testing.assert_allclose(
            scoring.features(start, images[:5]),
            scoring.features(loaded.members[index], images[:5]),
            rtol=1e-5,
        )
    (folder / "member-1.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="names 2 members, member-1.weights.h5 is missing"):
        registry.load_model_version(folder)


def test_a_version_is_judged_beside_the_one_before_on_the_same_held_out_subjects(
    tiny_galaxies, galaxy_questions, quick_fit, tmp_path
):
    images, counts = tiny_galaxies
    config = pipeline.model_config(galaxy_questions, image_size=24)
    first = quick_fit
    assert "_against_previous" not in first.metrics  # nothing to compare a first version with
    folder = registry.save_model_version(tmp_path / "v1", first.model, first.config, first.metrics)
    spoiled = registry.load_model_version(folder)[0]  # certain of "smooth" for every image
    output = spoiled.head.get_layer("answers_smooth-or-featured")
    kernel, bias = output.get_weights()
    output.set_weights([np.zeros_like(kernel), np.array([20.0, -20.0], dtype=bias.dtype)])

    second = pipeline.fit_and_evaluate(
        images, counts, range(len(images)), config, settings=QUICK, samples=10,
        warm_start=folder, compare_with=spoiled,
    )  # fmt: skip
    against = second.metrics["_against_previous"]
    held_out = second.metrics["_held_out"]
    assert against["items"] == held_out["items"] > 0 and against["nll"] == held_out["nll"]
    assert against["previous_nll"] > against["nll"] + 5 and against["difference_se"] > 0
    assert against["better"] and not against["worse"]
    # The other way round, the same subjects: the spoiled version is the worse one.
    rows = np.flatnonzero(pipeline.split_roles(range(len(images))) == "held_out")
    reverse = pipeline.held_out_report(
        spoiled, images, counts, rows, second.alphas, 10, previous=second.model
    )["_against_previous"]
    assert reverse["worse"] and not reverse["better"]
