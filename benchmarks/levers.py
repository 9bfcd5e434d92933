"""Which levers make a first model better from few labels? A screen over seeds and two image kinds.

Per seed and image set (synthetic galaxies; fluorescence cells, `datasets/cells.py`), the first
`--labels` random labels of the active-learning benchmark's pool (`common.make_data`: the same
streams, 15 simulated volunteers) train production's fit (`mlworker.pipeline.fit_and_evaluate`), and
each lever is judged on the same test set as the expected vote NLL under the true p:

- `scratch`: today's model, as production trains and scores it;
- `symmetries`: the same model scored under the image's 8 symmetries (`test_time_symmetries`);
- `temperature`: its MC samples sharpened or flattened by one temperature per model, fitted on the
  fit's own validation split (nothing the test set sees);
- `ensemble`: two fits from different initialisations, their MC samples pooled;
- `pretrained`: a trunk pretrained without labels (`benchmarks/pretraining.py`, SimCLR limited to
  the project's invariances) on the pool and `--unlabelled` more images of the same kind (never
  the test set), then fine-tuned as a transferred start is;
- `views_2`, `views_4`, `views_8`: `combined` (the two restarts pooled under the 8 symmetries, every
  network every view: production's default before issue 39) scored under 2, 4 or 8 views in all,
  dealt out over the two networks (`scoring.view_plan`): 2, 4 or 8 trunk passes an image, not 16.

The figures and the README's tables are in levers_summary.py.

    .venv/bin/python -m benchmarks.levers --seeds 6 --jobs 2        # the README's figures
"""

import argparse
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks import common, plots, runs
from benchmarks.levers_summary import LEVERS, SIZES, VIEWS, headline, summarise

DATASETS = ("galaxies", "cells")
TEMPERATURES = list(np.exp(np.linspace(np.log(0.5), np.log(4.0), 22)))
# Dirichlet concentrations a fit's validation subjects choose among (inf: no overdispersion).
CONCENTRATIONS = [np.inf, 300.0, 100.0, 50.0, 20.0, 10.0, 5.0]


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    runs.add_run_arguments(parser, "levers", seeds=6)
    parser.add_argument("--labels", default="100,300", help="labelled subjects, comma-separated")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--unlabelled", type=int, default=6000, help="images beyond the pool")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--epochs", type=int, help="maximum epochs a fit (default: production's)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--levers", default=",".join(LEVERS), help="comma-separated")
    parser.add_argument(
        "--consistency-weight",
        type=float,
        default=100.0,
        help="weight of the two-view agreement on unlabelled images (consistency.py)",
    )
    arguments = parser.parse_args(argv)
    try:
        arguments.labels = sorted(int(n) for n in arguments.labels.split(","))
    except ValueError:
        parser.error(
            f"--labels: expected integers separated by commas, received {arguments.labels!r}"
        )
    arguments.datasets = [name for name in arguments.datasets.split(",") if name]
    arguments.levers = [name for name in LEVERS if name in arguments.levers.split(",")]
    if not arguments.levers:
        parser.error(f"--levers: expected some of {LEVERS}, received nothing known")
    unknown = set(arguments.datasets) - set(DATASETS)
    if unknown or arguments.labels[0] < 10 or arguments.labels[-1] > arguments.pool:
        parser.error(
            f"expected datasets among {DATASETS} and 10 <= labels <= pool, received "
            f"{arguments.datasets} and {arguments.labels}"
        )
    arguments.initial, arguments.volunteers, arguments.rotation_invariant = (
        arguments.labels[-1],
        15,
        True,  # galaxies and cells alike have no "up"
    )
    return arguments


def images_of(dataset: str, count: int, size: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """`count` images and true p of one kind, from their own random stream."""
    from mlworker import synthetic

    if dataset == "galaxies":
        galaxies = synthetic.make_galaxies(count, size=size, seed=seed)
        return galaxies.images, galaxies.p
    from benchmarks.datasets import cells

    return cells.make_cells(count, size, int(np.random.default_rng(seed).integers(2**31)))


def seed_data(dataset: str, seed: int, arguments, folder: Path) -> tuple[dict, np.ndarray]:
    """The seed's data (`common.make_data`) and its unlabelled images (the pool and more)."""
    streams = np.random.SeedSequence([seed, 2026]).spawn(2)
    setup = argparse.Namespace(**vars(arguments), dataset=None)
    if dataset != "galaxies":
        images, p = images_of(
            dataset, arguments.pool + arguments.test, arguments.image_size, streams[0]
        )
        setup.dataset = folder / f"{dataset}.npz"
        np.savez(setup.dataset, images=images, p=p)
    data = common.make_data(seed, setup)
    extra, _ = images_of(dataset, arguments.unlabelled, arguments.image_size, streams[1])
    return data, np.concatenate([data["pool_images"], extra])


def tempered(probabilities: dict, temperature: float) -> dict:
    """Each MC sample's answer probabilities raised to 1 / temperature, renormalised."""
    out = {}
    for key, value in probabilities.items():
        logits = np.log(np.clip(value, 1e-12, 1.0)) / temperature
        logits -= logits.max(axis=1, keepdims=True)
        out[key] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return out


def dirichlet_spread(probabilities: dict, concentration: float, draws: int, seed: int) -> dict:
    """Overdispersion: each MC sample p_t becomes `draws` draws from Dirichlet(concentration p_t),
    so the votes follow a Dirichlet-multinomial around every sample (np.inf: unchanged).
    {question: [items, answers, T]} -> {question: [items, answers, T * draws]}, draws aligned
    across questions."""
    if not np.isfinite(concentration):
        return probabilities
    rng = np.random.default_rng(seed)
    out = {}
    for key, value in probabilities.items():
        shape = np.clip(np.repeat(value, draws, axis=-1), 1e-6, None) * concentration
        gammas = rng.gamma(shape)
        out[key] = np.clip(gammas / gammas.sum(axis=1, keepdims=True), 1e-7, 1.0)
    return out


def fitted_by_validation(fitted, images, counts, samples: int, candidates, transform) -> float:
    """The candidate (a temperature, a concentration) whose `transform(probabilities, candidate)`
    has the lowest vote NLL on the fit's validation subjects (the first without any)."""
    from mlworker import outcomes, scoring

    rows = fitted.training.validation_indices
    if len(rows) == 0:
        return candidates[0]
    probabilities = scoring.mc_samples(fitted.model, images[rows], samples)
    held = {key: np.asarray(value)[rows] for key, value in counts.items()}
    questions = fitted.config.questions
    losses = [
        -outcomes.observed_log_likelihood(transform(probabilities, c), held, questions).mean()
        for c in candidates
    ]
    return candidates[int(np.argmin(losses))]


def pooled(parts: list[dict]) -> dict:
    """MC samples of several models, an equal share from each: {question: [items, answers, T]}."""
    share = min(part[next(iter(part))].shape[-1] for part in parts) // len(parts)
    return {key: np.concatenate([part[key][..., :share] for part in parts], -1) for key in parts[0]}


def viewed(networks: list, images: np.ndarray, samples: int, views: int) -> dict:
    """`combined` scored as production scores an ensemble (`scoring.ensemble_samples`) under
    `views` of the 8 symmetries in all, dealt out over the networks."""
    from mlworker import scoring

    for network in networks:
        network.config = network.config.replace(test_time_symmetries=8)
    try:
        return scoring.ensemble_samples(networks, images, samples, views=views)
    finally:
        for network in networks:
            network.config = network.config.replace(test_time_symmetries=1)


def validation_nll(fitted) -> float:
    """The kept restart's validation NLL (what production selects on)."""
    restarts = fitted.metrics["_restarts"]
    return restarts["validation_nll"][restarts["kept"]]


def lever_points(
    data: dict, labelled: list[int], seed: int, arguments, source, unlabelled=None
) -> dict:
    """The chosen levers at one labelled set: {lever: test point}; `source`: the pretrained trunk;
    `unlabelled`: the images the project holds (the pool and more, never the test set)."""
    from mlworker import scoring

    images = data["pool_images"][labelled]
    counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(data["questions"])}
    # Every lever is judged against the model before issue 25 (common.STARTS["scratch"]).
    settings, scratch = common.start_options(
        "scratch", common.production_settings(epochs=arguments.epochs)
    )
    chosen, test, samples = arguments.levers, data["test_images"], arguments.samples

    def fit(start_seed, trunk_source=None, changes=None, restarts=None, **setting_changes):
        started = time.time()
        fitted = common.fit(
            images, counts, labelled, data["questions"],
            replace(
                settings, fresh_restarts=restarts or settings.fresh_restarts, **setting_changes
            ),
            samples=samples, seed=start_seed, rotation_invariant=True,
            trunk_source=trunk_source, config_changes={**scratch, **(changes or {})},
            unlabelled=unlabelled if setting_changes else None,
        )  # fmt: skip
        return fitted, round(time.time() - started, 1)

    def point(fitted, seconds, probabilities=None, **extra):
        return (
            common.test_point(fitted, data, arguments, probabilities) | {"seconds": seconds} | extra
        )

    def turned(model):
        model.config = model.config.replace(test_time_symmetries=8)
        try:
            return scoring.mc_samples(model, test, samples)
        finally:
            model.config = model.config.replace(test_time_symmetries=1)

    first, seconds = fit(seed)
    own = scoring.mc_samples(first.model, test, samples)
    points = {"scratch": point(first, seconds, own)}
    if "symmetries" in chosen:
        points["symmetries"] = point(first, seconds, turned(first.model))
    if "temperature" in chosen:
        temperature = fitted_by_validation(first, images, counts, samples, TEMPERATURES, tempered)
        points["temperature"] = point(
            first, seconds, tempered(own, temperature), temperature=round(float(temperature), 3)
        )
    if "overdispersion" in chosen:
        spread = partial(dirichlet_spread, draws=4, seed=seed)
        concentration = fitted_by_validation(first, images, counts, samples, CONCENTRATIONS, spread)
        points["overdispersion"] = point(
            first, seconds, spread(own, concentration), concentration=float(concentration)
        )
    others = [model for model in first.restarts if model is not first.model]
    if "pooled" in chosen and others:
        points["pooled"] = point(
            first, seconds, pooled([own, scoring.mc_samples(others[0], test, samples)])
        )
    if "combined" in chosen and others:
        points["combined"] = point(first, seconds, pooled([turned(m) for m in first.restarts]))
    for lever in (name for name in VIEWS if name in chosen and others):
        points[lever] = point(first, seconds, viewed(first.restarts, test, samples, VIEWS[lever]))
    if "ensemble" in chosen:
        second, more = fit(seed + 7919)
        other = scoring.mc_samples(second.model, test, samples)
        points["ensemble"] = point(first, seconds + more, pooled([own, other]))
    if "selection" in chosen:
        points["selection"] = selection_point(first, seconds, fit, point, seed)
    if "pretrained" in chosen:
        points["pretrained"] = point(*fit(seed, source))
    if "consistency" in chosen:
        points["consistency"] = point(*fit(seed, consistency_weight=arguments.consistency_weight))
    return points


def selection_point(first, seconds, fit, point, seed) -> dict:
    """The network among today's and the `SIZES` alternatives (one training each) with the lowest
    validation NLL, judged on the test set; its cost is every candidate's training."""
    candidates = [("today", first, validation_nll(first))]
    for name, changes in SIZES.items():
        fitted, more = fit(seed, changes=changes, restarts=1)
        seconds += more
        candidates.append((name, fitted, validation_nll(fitted)))
    finite = [c for c in candidates if c[2] is not None]
    name, chosen, _ = min(finite or candidates[:1], key=lambda c: c[2] if c[2] is not None else 0)
    return point(chosen, seconds, chosen_network=name)


def run_seed(seed: int, arguments) -> dict:
    from benchmarks import pretraining
    from mlworker import pipeline, sources

    results = {"seed": seed}
    for dataset in arguments.datasets:
        folder = Path(tempfile.mkdtemp(prefix="levers-"))
        data, unlabelled = seed_data(dataset, seed, arguments, folder)
        channels = 1 if unlabelled.ndim == 3 else unlabelled.shape[-1]
        config = pipeline.model_config(
            data["questions"], image_size=arguments.image_size, channels=channels
        )
        source, report = None, {"seconds": 0.0}
        if "pretrained" in arguments.levers:
            settings = pretraining.PretrainingSettings(epochs=arguments.pretrain_epochs)
            done = pretraining.pretrain_trunk(unlabelled, config, settings=settings, seed=seed)
            done.trunk.save(folder / "trunk.keras")
            source, report = (
                sources.keras_source(folder / "trunk.keras", "self-supervised"),
                done.report,
            )
        points = {
            str(n): lever_points(
                data, [int(i) for i in data["initial"][:n]], seed, arguments, source, unlabelled
            )
            for n in arguments.labels
        }
        results[dataset] = {"pretraining": report, "points": points}
        nll = {n: {k: round(v["nll"], 3) for k, v in p.items()} for n, p in points.items()}
        print(f"seed {seed} {dataset}: {nll}", flush=True)
    return results


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    seeds, seconds = runs.run_seeds_resumable(run_seed, arguments, range(arguments.seeds))
    summary = summarise(seeds, arguments)
    result = runs.record(
        headline(summary), arguments, argv, "levers", started, summary=summary, seeds=seeds
    )
    result["seconds"] = seconds  # a resumed run's parts, all of them
    plots.levers(summary, runs.write_result(result, arguments.results_dir, arguments.output))
    return result


if __name__ == "__main__":
    main()
