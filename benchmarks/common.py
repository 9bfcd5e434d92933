"""What the benchmarks share, so that each script holds only its own experiment.

- Data and test sets: `questions_for`, `truth`, `true_reach`, `test_set`, `make_data` (a seed's
  pool, test set and first labels, from independent streams).
- Fit and score through `mlworker.pipeline` as production does: `production_settings`, `fit`
  (model_config + fit_and_evaluate, warm-started from a saved version's folder as a round is),
  `save_version` (registry.save_model_version, as a round saves), `fit_round` and `pick` (a
  round's fit and its picks with the version that steers, loaded from its folder, mixed with the
  round's exploration picks by `labelling.loop.rounds.round_picks_choose`), `test_point`.

Crossings and savings are in savings.py; arguments, seeds and result files in runs.py.
TensorFlow is imported inside the functions that need it: the web benchmarks import this module too.
"""

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

# TensorFlow logs warnings only, in every benchmark (set before any of them imports it).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Data and test sets


def questions_for(p_columns: int, dataset: bool, parents=None):
    """The galaxy tree (synthetic.GALAXY_QUESTIONS), or a dataset's yes/no questions: independent,
    or a tree when the dataset names each question's `parents` (the question whose first answer,
    "yes", leads to it; -1 for one every volunteer answers)."""
    from mlworker import questions, synthetic

    if not dataset:
        return questions.from_dicts(synthetic.GALAXY_QUESTIONS)
    if parents is None:
        return questions.independent(p_columns)
    parents = [int(parent) for parent in parents]
    children = {parent: child for child, parent in enumerate(parents) if parent >= 0}
    if (
        len(parents) != p_columns
        or any(not -1 <= parent < child for child, parent in enumerate(parents))
        or len(children) < sum(parent >= 0 for parent in parents)
    ):
        raise ValueError(
            f"Invalid parents: expected {p_columns} indices, each -1 or an earlier question's "
            f"(one child per question), received {parents}"
        )
    return questions.from_dicts(
        [
            {
                "key": f"q{index}",
                "answers": [
                    {"key": "yes", "next": f"q{children[index]}" if index in children else None},
                    {"key": "no", "next": None},
                ],
            }
            for index in range(p_columns)
        ]
    )


def dataset_parents(path):
    """The `parents` array of an .npz dataset (`questions_for`), or None when it has none."""
    with np.load(path) as archive:
        return archive["parents"] if "parents" in archive.files else None


def truth(p: np.ndarray, questions) -> dict:
    """The true answer probabilities per question, {key: [items, 2]}, from p [items, questions]."""
    return {q.key: np.stack([p[:, i], 1 - p[:, i]], axis=-1) for i, q in enumerate(questions)}


def true_reach(p: np.ndarray, questions) -> np.ndarray:
    """[items, questions]: the share of volunteers the true p sends to each question."""
    from mlworker.acquisition import reach_share

    share = reach_share(truth(p, questions), questions)
    return np.stack([share[q.key] for q in questions], axis=-1)


def catalogue_rmse(estimates: np.ndarray, p: np.ndarray, reach: np.ndarray) -> float:
    """RMSE of a catalogue's first-answer estimates [items, questions] against the true p, each
    question weighted by the share of volunteers the true p sends to it (`true_reach`)."""
    return float(np.sqrt(np.sum(reach * (estimates - p) ** 2) / np.sum(reach)))


def test_set(images: np.ndarray, p: np.ndarray, counts: dict, questions) -> dict:
    """A test set: images, the true answer probabilities (`truth`) and the votes
    ({key: [items, answers]}); p is [items, questions]."""
    return {
        "questions": questions,
        "test_images": images,
        "test_truth": truth(p, questions),
        "test_counts": counts,
    }


def make_data(seed: int, arguments) -> dict:
    """A seed's pool, test set and initial labelled set, from independent streams: synthetic
    galaxies, or the items of `arguments.dataset` (.npz) in a random order."""
    from mlworker import synthetic

    streams = synthetic.streams(seed)
    choices = np.random.default_rng(streams["choices"])
    needed = arguments.pool + arguments.test
    if arguments.dataset:
        full = synthetic.load_npz_dataset(arguments.dataset)
        if len(full.p) < needed:
            raise SystemExit(
                f"--dataset has {len(full.p)} items: expected at least pool + test = {needed}"
            )
        order = choices.permutation(len(full.p))[:needed]
        images, p = full.images[order], full.p[order]
    else:
        galaxies = synthetic.make_galaxies(
            needed, size=arguments.image_size, seed=streams["galaxies"]
        )
        images, p = galaxies.images, galaxies.p
    parents = dataset_parents(arguments.dataset) if arguments.dataset else None
    questions = questions_for(p.shape[1], bool(arguments.dataset), parents)
    counts = synthetic.simulate_vote_counts(
        p, arguments.volunteers, np.random.default_rng(streams["votes"]), questions
    )
    pool, test = slice(0, arguments.pool), slice(arguments.pool, needed)
    test_counts = {q.key: counts[test, i] for i, q in enumerate(questions)}
    return {
        **test_set(images[test], p[test], test_counts, questions),
        "pool_images": images[pool],
        "pool_p": p[pool],
        "pool_counts": counts[pool],
        "initial": choices.choice(arguments.pool, arguments.initial, replace=False),
    }


# Fit and score, as production does


# Where a benchmark's model starts, as issue 25 compares them: `scratch` is the model before that
# issue (one network, the better of two initialisations on the validation NLL, scored on the image
# as it is, its samples as drawn: no calibration, issue 42), `default` production's current
# default (TrainingSettings and pipeline.model_config).
STARTS = {
    "scratch": (
        {"members": 1, "fresh_restarts": 2, "calibration": "none"},
        {"test_time_symmetries": 1},
    ),
    "default": ({}, {}),
}


def start_options(start: str, settings) -> tuple:
    """(training settings, config changes) of a start in STARTS."""
    if start not in STARTS:
        raise ValueError(f"Invalid start: expected one of {sorted(STARTS)}, received {start!r}")
    setting_changes, config_changes = STARTS[start]
    return replace(settings, **setting_changes), dict(config_changes)


def production_settings(**overrides):
    """Production's TrainingSettings with the fields given replaced (None: production's value)."""
    from mlworker.training import TrainingSettings

    return replace(TrainingSettings(), **{k: v for k, v in overrides.items() if v is not None})


def fit(images, counts, keys, questions, settings, *, samples, seed, **options):
    """Production's fit + held-out judgement (`pipeline.fit_and_evaluate`) on the network a project
    of these images trains. options: rotation_invariant, trunk_source, config_changes (fields of
    the network to change, for a screen of sizes) and warm_start — a saved version's folder
    (`save_version`), which the fit loads as a round loads its predecessor."""
    from mlworker import pipeline

    config = pipeline.model_config(
        questions,
        image_size=images.shape[1],
        channels=1 if images.ndim == 3 else images.shape[-1],
        trunk_source=options.pop("trunk_source", None),
        rotation_invariant=options.get("rotation_invariant", False),
    ).replace(**options.pop("config_changes", {}))
    return pipeline.fit_and_evaluate(
        images, counts, keys, config, settings=settings, samples=samples, seed=seed, **options
    )


def save_version(fitted, folder: Path) -> Path:
    """Save a fit as a round saves its version; the folder is what later fits warm-start from."""
    from mlworker import registry

    return registry.save_model_version(folder, fitted.model, fitted.config, fitted.metrics)


def fit_round(
    data: dict, labelled: list[int], seed: int, arguments, settings, start=None, config_changes=None
):
    """A round's fit on `make_data`'s pool: production's fit + held-out judgement on the labelled
    subjects, warm-started as a round is, from the folder of the version that steers (`start`;
    None: random weights). seed: the round's; arguments: samples, rotation_invariant;
    config_changes: fields of the network to change (`start_options`)."""
    counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(data["questions"])}
    return fit(
        data["pool_images"][labelled],
        counts,
        labelled,
        data["questions"],
        settings,
        samples=arguments.samples,
        seed=seed,
        rotation_invariant=arguments.rotation_invariant,
        warm_start=start,
        config_changes=config_changes or {},
    )


def product_ready() -> None:
    """The product's Django app loaded (settings from DJANGO_SETTINGS_MODULE, production's when
    unset), so that the loop's own functions can be called; no database is opened."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "starling.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def production_exploration_share() -> float:
    """A new project's share of random exploration picks in every round (`Project`'s default)."""
    product_ready()
    from labelling.models import Project

    return float(Project._meta.get_field("exploration_share").default)


def pick(strategy: str, start, data: dict, labelled: list[int], arguments, rng) -> np.ndarray:
    """The `arguments.batch` pool subjects volunteers are asked about next, as `select_round`
    picks them: production's score + select with the version that steers (loaded from its folder
    `start`, as score_pool loads it), mixed with `arguments.exploration_share` of random picks
    from the rest (`round_picks_choose`); or random (the queue's order before any good version)
    when there is none."""
    from mlworker import pipeline, registry, scoring

    images = data["pool_images"]
    pool = np.setdiff1d(np.arange(len(images)), labelled)
    if start is None:
        return pool[rng.permutation(len(pool))[: arguments.batch]]
    product_ready()
    from labelling.loop import rounds

    model, _, _ = registry.load_model_version(start)
    scored = pipeline.score(
        model,
        images[pool],
        volunteers=arguments.volunteers,
        samples=arguments.samples,
        strategy=strategy,
        rng=rng,
    )
    features = scoring.features(model, images[pool]) if strategy == "diverse_bald" else None
    picked = pipeline.select(
        strategy, scored, arguments.batch, rng, features=features, beta=arguments.beta
    )
    picks = rounds.round_picks_choose(
        scored_ids=pool,
        picked=picked,
        batch_size=arguments.batch,
        exploration_share=arguments.exploration_share,
        rng=rng,
    )
    return np.array([subject for subject, _ in picks], dtype=pool.dtype)


def test_point(fitted, data: dict, arguments, probabilities: dict | None = None) -> dict:
    """A fitted model on a test set (`test_set`): the expected vote NLL under the true p, the
    image-free baseline's, the vote-noise floor, RMSE of the vote fractions, interval coverage.
    `probabilities` ({question: [items, answers, samples]}): other samples of the test images to
    judge instead of the model's own (an ensemble, a calibration)."""
    from mlworker import baseline, metrics, outcomes, scoring

    questions, truth = data["questions"], data["test_truth"]
    if probabilities is None:
        probabilities = scoring.mc_samples(fitted.model, data["test_images"], arguments.samples)
    expected, floor = outcomes.expected_log_likelihood(
        probabilities, truth, questions, arguments.volunteers
    )
    base = baseline.expected_log_likelihood(fitted.alphas, truth, questions, arguments.volunteers)
    errors = [probabilities[q.key][:, 0, :].mean(axis=-1) - truth[q.key][:, 0] for q in questions]
    report = metrics.evaluate(probabilities, data["test_counts"])
    coverage = metrics.overall_coverage(report, questions)
    return {
        "nll": float(-expected.mean()),
        "baseline_nll": float(-base.mean()),
        "floor": float(-floor.mean()),
        "rmse": float(np.sqrt(np.mean(np.square(errors)))),
        "coverage": coverage,
        "held_out_flagged_worse": bool(fitted.worse_than_baseline),
        "epochs": fitted.training.epochs_run,
        "train_seconds": round(fitted.training.seconds, 2),
    }
