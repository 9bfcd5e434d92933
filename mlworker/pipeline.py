"""The few functions a round runs, called by the Celery tasks and by the benchmarks alike.

    config = model_config(questions, image_size=..., channels=...)
    fit = fit_and_evaluate(images, counts, subject_keys, config, ...)   # train, held-out report
    scored = score(fit.model, pool_images, volunteers=..., samples=..., strategy=...)
    picked = select(strategy, scored, batch, rng, features=...)
    steering = steering_version([...worse_than_baseline of each version, oldest first])

A benchmark that called anything else would measure code production never runs.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlworker import acquisition, baseline, calibration, metrics, outcomes, scoring, training
from mlworker.model import BayesianCNN, ModelConfig
from mlworker.training_settings import DEFAULT_SETTINGS, TrainingSettings

ROLES = ("train", "validation", "held_out")
# A version is judged worse than the image-free baseline when its held-out NLL is higher by more
# than this many standard errors of the paired per-subject difference (one-sided, about 10%).
# A plain comparison of means on an early round's ~15 held-out subjects was decided by one subject:
# one confident miss flagged CNNs that beat the baseline on nearly all the other held-out subjects
# and on the test galaxies (README, "The loop, the queue and retirement in detail", tells the case).
WORSE_STANDARD_ERRORS = 1.28


def model_config(
    questions: Sequence,
    *,
    image_size: int,
    channels: int = 1,
    trunk_source: dict | None = None,
    rotation_invariant: bool = False,
) -> ModelConfig:
    """The network a project trains: the paper's layout, slimmed for the first rounds' few labels.

    Four 3x3 convolutions (32, 32, 64, 64) with a 2x2 pool after every second one, dense 64,
    MC dropout 0.5 (kept on when scoring), a softmax per question, L2 1e-3 on every kernel, output
    kernels starting at zero (an untrained model predicts the mean fractions). Trained on 8
    dropout masks per image at once with the alpha = 0.5 objective (model.py), which lets the
    masks spread where the image does not settle the votes. Chosen on 100 labelled synthetic
    galaxies, where the paper's six convolutions / dense 128 with one mask per step did far worse
    than the image-free baseline; how this layout's first model compares with that baseline is
    benchmarks/results/first_round.json's `headline` (`nll_mean`, `baseline_nll_mean`; README,
    "The first model against the image-free baseline").

    With a `trunk_source` (another project's version or a Keras file, transfer.py) the trunk is
    the source's instead of the four convolutions, and the head is built fresh on its features.
    Images with no "up" (`rotation_invariant`) are scored under their 8 symmetries: in the levers
    screen that lowered the test NLL on both image kinds at no cost in training
    (`headline.levers.<kind>.symmetries` in benchmarks/results/levers.json).
    """
    return ModelConfig(
        image_size=image_size,
        channels=channels,
        questions=tuple(questions),
        conv_filters=(32, 32, 64, 64),
        pool_after=(1, 3),
        dense_units=64,
        dropout_rate=0.5,
        weight_decay=1e-3,
        training_masks=8,
        mask_alpha=0.5,
        trunk_source=trunk_source,
        test_time_symmetries=8 if rotation_invariant else 1,
    )


def split_roles(
    keys: Sequence, *, validation_share: float = 0.15, held_out_share: float = 0.15
) -> np.ndarray:
    """Each subject's role, "train", "validation" or "held_out", from a hash of its key.

    The role depends on the key alone, so a subject keeps it for good: a validation subject is never
    trained on in a later round, and the held-out subjects (the metrics staff see) are never used
    to stop or select anything. Returns str [items].
    """
    if not (0 <= validation_share < 1 and 0 <= held_out_share < 1):
        raise ValueError(
            "Invalid split shares: expected 0 <= share < 1 each, received "
            f"validation {validation_share}, held-out {held_out_share}"
        )
    if validation_share + held_out_share >= 1:
        raise ValueError(
            "Invalid split shares: expected validation + held-out < 1, received "
            f"{validation_share + held_out_share}"
        )
    positions = np.array(
        [
            int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "big") / 2.0**64
            for key in keys
        ]
    )
    roles = np.full(len(positions), "train", dtype=object)
    roles[positions < held_out_share + validation_share] = "validation"
    roles[positions < held_out_share] = "held_out"
    return roles.astype(str)


@dataclass
class FitReport:
    model: BayesianCNN
    metrics: dict  # per question (metrics.evaluate) and "_held_out", "_split", "_calibration", "_baseline"
    worse_than_baseline: bool
    training: training.TrainingResult
    alphas: dict[str, np.ndarray] = field(repr=False)
    restarts: list[BayesianCNN] = field(default_factory=list, repr=False)  # every restart's model

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def fit_and_evaluate(
    images: np.ndarray,
    counts: dict[str, np.ndarray],
    keys: Sequence,
    config: ModelConfig,
    *,
    settings: TrainingSettings = DEFAULT_SETTINGS,
    samples: int = 50,
    seed: int = 0,
    rotation_invariant: bool = True,
    warm_start: BayesianCNN | str | Path | None = None,
    unlabelled: np.ndarray | None = None,
    callbacks: tuple = (),
    compare_with: BayesianCNN | None = None,
) -> FitReport:
    """Train on the "train" subjects (stopping on "validation"), then judge on "held_out".

    The image-free baseline is fitted on the same training subjects and scored on the same
    held-out ones; the version is `worse_than_baseline` when its held-out vote NLL (joint over the
    tree, MC mixture) is higher. With no held-out subject yet (tiny sets), nothing is judged.
    `unlabelled`: images without votes, for `settings.consistency_weight` (training.py).
    `compare_with`: an earlier version of the same project, scored on the same held-out subjects
    with the same votes (metrics "_against_previous"); the split hashes subject keys, so they were
    held out from it too.
    """
    roles = split_roles(
        keys, validation_share=settings.validation_share, held_out_share=settings.held_out_share
    )
    train_rows, validation_rows, held_out_rows = (np.flatnonzero(roles == r) for r in ROLES)
    if len(train_rows) == 0:  # a handful of subjects, all hashed away from training
        train_rows, validation_rows = np.arange(len(roles)), np.zeros(0, dtype=np.int64)
        held_out_rows = np.zeros(0, dtype=np.int64)

    def trained(attempt: int, start) -> training.TrainingResult:
        return training.train(
            images,
            counts,
            config,
            training_indices=train_rows,
            validation_indices=validation_rows,
            settings=settings,
            seed=seed + 7919 * attempt,
            rotation_invariant=rotation_invariant,
            warm_start=start,
            unlabelled=unlabelled,
            callbacks=callbacks,
        )

    def validation_nll(model) -> float:
        held = {key: np.asarray(value)[validation_rows] for key, value in counts.items()}
        return scoring.vote_nll(model, images[validation_rows], held, samples)

    if settings.members > 1:
        starts = _member_starts(warm_start, settings.members)
        results = [trained(index, start) for index, start in enumerate(starts)]
        result = _pooled(results)
        candidates, kept = [(validation_nll(result.model), result)], 0
    else:
        # Restarts are for random initialisations; a warm or transferred start has one already.
        fresh = warm_start is None and config.trunk_source is None and len(validation_rows) > 0
        results = [trained(a, warm_start) for a in range(settings.fresh_restarts if fresh else 1)]
        candidates = [(validation_nll(r.model), r) for r in results]
        kept = min(range(len(candidates)), key=lambda index: candidates[index][0])
        result = candidates[kept][1]
    calibrated = calibrate(result.model, images, counts, validation_rows, samples, settings)
    alphas = baseline.fit({key: np.asarray(value)[train_rows] for key, value in counts.items()})
    report = held_out_report(
        result.model, images, counts, held_out_rows, alphas, samples, previous=compare_with
    )
    report["_split"] = {
        "training": int(len(train_rows)),
        "validation": int(len(validation_rows)),
        "held_out": int(len(held_out_rows)),
    }
    report["_members"] = (
        [{"epochs": r.epochs_run, "seconds": round(r.seconds, 2)} for r in results]
        if settings.members > 1
        else None
    )
    report["_restarts"] = {
        # None: no validation subject to judge on (JSON has no NaN)
        "validation_nll": [round(nll, 4) if np.isfinite(nll) else None for nll, _ in candidates],
        "kept": kept,
    }
    report["_calibration"] = calibrated
    report["_baseline"] = {
        key: [round(float(a), 6) for a in value] for key, value in alphas.items()
    }
    restarts = [r.model for r in results]
    return FitReport(result.model, report, report["_held_out"]["worse"], result, alphas, restarts)


def calibrate(model: BayesianCNN, images, counts, rows, samples: int, settings) -> dict:
    """Fit the version's calibration (calibration.py, `settings.calibration`) on the subjects
    `rows` (the validation split: never trained on) and store it in the config of every member,
    so that `scoring.mc_samples` returns calibrated samples from now on (and a saved version
    keeps it). Returns the fitted calibration with its cost in seconds."""
    started = time.perf_counter()
    for member in model.members:
        member.config = member.config.replace(calibration=None)
    drawn = scoring.mc_samples(model, images[rows], samples=samples) if len(rows) else None
    held = {key: np.asarray(value)[rows] for key, value in counts.items()}
    fitted = (
        calibration.fit(drawn, held, model.config.questions, settings.calibration)
        if drawn is not None
        else {**calibration.identity(), "method": "none", "items": 0}
    )
    for member in model.members:
        member.config = member.config.replace(calibration=fitted)
    return {**fitted, "seconds": round(time.perf_counter() - started, 3)}


def _member_starts(warm_start, members: int) -> list:
    """What each member trains from: nothing (random weights, or the config's trunk source), or
    the matching member of the version it warm-starts from (its last one when it has fewer)."""
    if warm_start is None:
        return [None] * members
    if not isinstance(warm_start, BayesianCNN):
        from mlworker import registry

        warm_start = registry.load_model_version(Path(warm_start))[0]
    earlier = warm_start.members
    return [earlier[min(index, len(earlier) - 1)] for index in range(members)]


def _pooled(results: list[training.TrainingResult]) -> training.TrainingResult:
    """One version of several trained members: the first carries the others (`extra_members`),
    the config records how many, seconds add up, the history and epochs are the first's."""
    first, others = results[0], [r.model for r in results[1:]]
    first.model.config = first.model.config.replace(members=len(results))
    for other in others:
        other.config = first.model.config
    first.model.extra_members = others
    first.seconds = sum(r.seconds for r in results)
    first.config = first.model.config
    return first


def held_out_report(model, images, counts, rows, alphas, samples: int, previous=None) -> dict:
    """Per-question metrics and the joint vote NLL of model and baseline on `rows`, with the
    coverage of the vote intervals over every question ("coverage": {"50", "80", "95"}) and the
    judgement: "difference_se" (standard error of the mean per-subject NLL difference) and "worse";
    with a `previous` version, "_against_previous" (`against_previous`)."""
    questions = model.config.questions
    held_out_counts = {key: np.asarray(value)[rows] for key, value in counts.items()}
    if len(rows) == 0:
        return {"_held_out": {"items": 0, "nll": None, "baseline_nll": None, "worse": False}}
    probabilities = scoring.mc_samples(model, images[rows], samples=samples)
    report = metrics.evaluate(probabilities, held_out_counts)
    model_nll = -outcomes.observed_log_likelihood(probabilities, held_out_counts, questions)
    baseline_nll = -baseline.observed_log_likelihood(alphas, held_out_counts)
    report["_held_out"] = {
        "items": int(len(rows)),
        "nll": float(model_nll.mean()),
        "baseline_nll": float(baseline_nll.mean()),
        "coverage": metrics.overall_coverage(report, questions),
        **judge(model_nll, baseline_nll),
    }
    if previous is not None:
        report["_against_previous"] = against_previous(
            model_nll, previous, images[rows], held_out_counts, samples
        )
    return report


def against_previous(model_nll: np.ndarray, previous, images, counts, samples: int) -> dict:
    """This version (its per-subject NLLs) against an earlier one on the same subjects and votes,
    paired: {"items", "nll", "previous_nll", "difference_se", "better", "worse"}, better / worse
    when the mean difference is beyond WORSE_STANDARD_ERRORS standard errors either way."""
    probabilities = scoring.mc_samples(previous, images, samples=samples)
    previous_nll = -outcomes.observed_log_likelihood(
        probabilities, counts, previous.config.questions
    )
    worse = judge(model_nll, previous_nll)
    better = judge(previous_nll, model_nll)["worse"]
    return {
        "items": int(len(model_nll)),
        "nll": float(model_nll.mean()),
        "previous_nll": float(previous_nll.mean()),
        "difference_se": worse["difference_se"],
        "better": better,
        "worse": worse["worse"],
    }


def judge(model_nll: np.ndarray, baseline_nll: np.ndarray) -> dict:
    """Is the model worse than the baseline? Per-subject NLLs [items] of both, paired.

    Worse when the mean difference exceeds WORSE_STANDARD_ERRORS standard errors (with one
    subject, when it is positive). Returns {"difference_se": float | None, "worse": bool}.
    """
    difference = np.asarray(model_nll, dtype=np.float64) - np.asarray(baseline_nll, np.float64)
    if len(difference) < 2:
        return {"difference_se": None, "worse": bool(difference.sum() > 0)}
    standard_error = float(difference.std(ddof=1) / np.sqrt(len(difference)))
    worse = difference.mean() > WORSE_STANDARD_ERRORS * standard_error
    return {"difference_se": standard_error, "worse": bool(worse)}


def steering_version(worse_than_baseline: Sequence[bool]) -> int | None:
    """Which version steers: the index of the latest one not judged worse than the image-free
    baseline, or None when there is none (picks are then random and training starts afresh).

    worse_than_baseline: one flag per ready version, oldest first. The version it names picks the
    next subjects, gates early retirement and is the next version's warm start; a flagged version
    is kept for the record but does none of these.
    """
    good = [index for index, worse in enumerate(worse_than_baseline) if not worse]
    return good[-1] if good else None


@dataclass
class Scored:
    samples: dict[str, np.ndarray]  # {question: [items, answers, T]}
    mutual_information: np.ndarray  # [items], joint over the tree
    predictive_entropy: np.ndarray  # [items], joint over the tree
    scores: np.ndarray  # [items]: what the strategy ranks by
    exact: bool  # False when the outcome space was too large and MI was estimated by Monte Carlo


def score(
    model: BayesianCNN,
    images: np.ndarray,
    *,
    volunteers: int,
    samples: int = 50,
    strategy: str = "bald",
    rng: np.random.Generator | None = None,
) -> Scored:
    """MC samples (trunk once), then the tree's joint MI and predictive entropy with `volunteers`
    classifying each subject; `scores` is the entropy for "entropy", the MI otherwise."""
    probabilities = scoring.mc_samples(model, images, samples=samples)
    info = outcomes.information(probabilities, model.config.questions, volunteers, rng=rng)
    ranked = info["predictive_entropy"] if strategy == "entropy" else info["mutual_information"]
    return Scored(
        samples=probabilities,
        mutual_information=info["mutual_information"],
        predictive_entropy=info["predictive_entropy"],
        scores=ranked,
        exact=info["exact"],
    )


def select(
    strategy: str,
    scored: Scored,
    batch_size: int,
    rng: np.random.Generator,
    *,
    features: np.ndarray | None = None,
    beta: float = 1.0,
) -> np.ndarray:
    """Indices of the `batch_size` subjects to ask about, most wanted first."""
    return acquisition.select(
        strategy, scored.scores, batch_size, rng, features=features, beta=beta
    )
