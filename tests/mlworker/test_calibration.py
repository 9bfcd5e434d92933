"""Calibration fitted per version (mlworker/calibration.py): an over-confident version's intervals
widen on held-out votes, and every consumer reads the calibrated samples."""

import keras
import numpy as np
import pytest
from scipy.special import expit, logit

from mlworker import calibration, metrics, pipeline, predictions, registry, scoring
from mlworker.model import ModelConfig, build_model
from mlworker.questions import QuestionConfig
from mlworker.training_settings import TrainingSettings

QUESTIONS = (QuestionConfig("stained", ("yes", "no")),)
SAMPLES = 24


@pytest.fixture(scope="module")
def over_confident():
    """A tiny network whose masks hardly differ (dropout 0.05) and whose head is scaled far beyond
    what its votes support (an over-fitted head), and votes drawn from a truth much less sure than
    it: the truth's log-odds are half the model's. Returns (model, images, counts); rows 0-149 are
    its validation subjects, 150-299 held out."""
    config = ModelConfig(
        image_size=16,
        channels=1,
        questions=QUESTIONS,
        conv_filters=(8,),
        pool_after=(0,),
        dense_units=64,
        dropout_rate=0.05,  # masks that hardly differ: too little spread
    )
    keras.utils.set_random_seed(42)
    model = build_model(config)
    rng = np.random.default_rng(42)
    images = rng.random((300, 16, 16, 1)).astype(np.float32)
    head = model.head.get_layer("answers_stained")
    kernel = rng.normal(0, 1, (64, 2)).astype(np.float32)
    for _ in range(2):  # scaled until the masks' mean log-odds spread over about +-4
        head.set_weights([kernel, np.zeros(2, np.float32)])
        kernel *= 4 / mean_log_odds(model, images).std()
    truth = expit(mean_log_odds(model, images) / 2)
    yes = rng.binomial(15, truth)
    return model, images, {"stained": np.stack([yes, 15 - yes], axis=-1)}


def mean_log_odds(model, images) -> np.ndarray:
    """[items]: the log-odds of "yes" of the mean of the model's samples."""
    yes = scoring.mc_samples(model, images, samples=SAMPLES)["stained"][:, 0].mean(-1)
    return logit(np.clip(yes, 1e-6, 1 - 1e-6))


def held_out_coverage(model, images, counts) -> dict:
    rows = np.arange(150, 300)
    samples = scoring.mc_samples(model, images[rows], samples=SAMPLES)
    report = metrics.evaluate(samples, {"stained": counts["stained"][rows]})
    return metrics.overall_coverage(report, QUESTIONS)


def interval_width(model, images) -> float:
    scored = pipeline.score(model, images[150:], volunteers=15, samples=SAMPLES)
    rows = predictions.prediction_rows(scored, QUESTIONS, retirement_limit=15)
    answers = [row["per_question"]["stained"]["answers"]["yes"] for row in rows]
    return float(np.mean([answer["high"] - answer["low"] for answer in answers]))


def test_an_over_confident_version_is_widened_on_votes_it_was_not_fitted_on(
    over_confident, tmp_path
):
    model, images, counts = over_confident
    before, width_before = held_out_coverage(model, images, counts), interval_width(model, images)
    assert before["80"] < 0.76  # over-confident: its 80% intervals hold too few votes

    fitted = pipeline.calibrate(
        model,
        images,
        counts,
        np.arange(150),
        SAMPLES,
        TrainingSettings(calibration="overdispersion"),
    )
    after = held_out_coverage(model, images, counts)
    assert fitted["method"] == "overdispersion" and fitted["items"] == 150
    assert fitted["nll_after"] < fitted["nll_before"]
    for mass in ("50", "80", "95"):  # closer to what the intervals say, on other subjects
        assert abs(after[mass] - int(mass) / 100) < abs(before[mass] - int(mass) / 100)
    assert interval_width(model, images) > width_before + 0.02  # the catalogue's 90% intervals

    folder = registry.save_model_version(tmp_path / "v1", model, model.config, {})
    loaded, config, _ = registry.load_model_version(folder)
    assert config.calibration == model.config.calibration  # a saved version keeps it


def test_the_identity_and_too_few_subjects_leave_the_samples_as_drawn():
    rng = np.random.default_rng(0)
    samples = {"stained": rng.dirichlet([2, 2], size=(30, 7)).transpose(0, 2, 1)}
    assert calibration.apply(samples, None) is samples
    assert calibration.apply(samples, calibration.identity()) is samples
    few = {"stained": np.array([[3, 1]] * 5)}
    fitted = calibration.fit({"stained": samples["stained"][:5]}, few, QUESTIONS)
    assert fitted["method"] == "none" and fitted["spread"] == 1.0


def test_a_wider_spread_keeps_the_centre_and_widens_the_samples():
    rng = np.random.default_rng(1)
    samples = {"stained": rng.dirichlet([8, 3], size=(50, 40)).transpose(0, 2, 1)}
    wider = calibration.apply(samples, {"spread": 2.0, "temperature": 1.0})["stained"]
    log_odds = np.log(samples["stained"][:, 0] / samples["stained"][:, 1])
    wider_odds = np.log(wider[:, 0] / wider[:, 1])
    np.testing.assert_allclose(wider_odds.mean(-1), log_odds.mean(-1), atol=1e-4)
    np.testing.assert_allclose(wider_odds.std(-1), 2 * log_odds.std(-1), rtol=1e-4)


def test_an_unknown_method_is_refused_with_what_was_received():
    with pytest.raises(ValueError, match="received 'conformal'"):
        calibration.fit({}, {}, QUESTIONS, method="conformal")
