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
- `pretrained`: a trunk pretrained without labels (`mlworker.pretraining`, SimCLR limited to the
  project's invariances) on the pool and `--unlabelled` more images of the same kind (never the
  test set), then fine-tuned as a transferred start is.

    .venv/bin/python benchmarks/levers.py --seeds 6 --jobs 2        # the README's figures
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "datasets"))

from benchmarks import common, plots  # noqa: E402

RESULTS = common.RESULTS
README_MARKER = "levers"
DATASETS = ("galaxies", "cells")
LEVERS = ("symmetries", "temperature", "ensemble", "pretrained")
TEMPERATURES = np.exp(np.linspace(np.log(0.5), np.log(4.0), 22))


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--labels", default="100,300", help="labelled subjects, comma-separated")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--unlabelled", type=int, default=6000, help="images beyond the pool")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--epochs", type=int, help="maximum epochs a fit (default: production's)")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--output", default="levers")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    try:
        arguments.labels = sorted(int(n) for n in arguments.labels.split(","))
    except ValueError:
        parser.error(
            f"--labels: expected integers separated by commas, received {arguments.labels!r}"
        )
    arguments.datasets = [name for name in arguments.datasets.split(",") if name]
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
    import cells

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


def fitted_temperature(fitted, images, counts, samples: int) -> float:
    """The temperature with the lowest vote NLL on the fit's validation subjects (1 without any)."""
    from mlworker import outcomes, scoring

    rows = fitted.training.validation_indices
    if len(rows) == 0:
        return 1.0
    probabilities = scoring.mc_samples(fitted.model, images[rows], samples)
    held = {key: np.asarray(value)[rows] for key, value in counts.items()}
    questions = fitted.config.questions
    losses = [
        -outcomes.observed_log_likelihood(tempered(probabilities, t), held, questions).mean()
        for t in TEMPERATURES
    ]
    return float(TEMPERATURES[int(np.argmin(losses))])


def lever_points(data: dict, labelled: list[int], seed: int, arguments, source) -> dict:
    """Every lever at one labelled set: {lever: test point}; `source`: the pretrained trunk."""
    from mlworker import scoring

    counts = {q.key: data["pool_counts"][labelled, i] for i, q in enumerate(data["questions"])}
    settings = common.production_settings(epochs=arguments.epochs)

    def fit(start_seed, trunk_source=None):
        started = time.time()
        fitted = common.fit(
            data["pool_images"][labelled], counts, labelled, data["questions"], settings,
            samples=arguments.samples, seed=start_seed, rotation_invariant=True,
            trunk_source=trunk_source,
        )  # fmt: skip
        return fitted, round(time.time() - started, 1)

    def point(fitted, seconds, probabilities=None):
        return common.test_point(fitted, data, arguments, probabilities) | {"seconds": seconds}

    first, seconds = fit(seed)
    second, more = fit(seed + 7919)
    test, samples = data["test_images"], arguments.samples
    own = scoring.mc_samples(first.model, test, samples)
    other = scoring.mc_samples(second.model, test, samples)
    temperature = fitted_temperature(first, data["pool_images"][labelled], counts, samples)
    first.model.config = first.config.replace(test_time_symmetries=8)
    turned = scoring.mc_samples(first.model, test, samples)
    pretrained, pretrained_seconds = fit(seed, source)
    half = samples // 2
    return {
        "scratch": point(first, seconds, own),
        "symmetries": point(first, seconds, turned),
        "temperature": point(first, seconds, tempered(own, temperature))
        | {"temperature": round(temperature, 3)},
        "ensemble": point(
            first,
            seconds + more,
            {
                key: np.concatenate([own[key][..., :half], other[key][..., :half]], -1)
                for key in own
            },
        ),
        "pretrained": point(pretrained, pretrained_seconds),
    }


def run_seed(seed: int, arguments) -> dict:
    from mlworker import pipeline, pretraining, sources

    results = {"seed": seed}
    for dataset in arguments.datasets:
        folder = Path(tempfile.mkdtemp(prefix="levers-"))
        data, unlabelled = seed_data(dataset, seed, arguments, folder)
        channels = 1 if unlabelled.ndim == 3 else unlabelled.shape[-1]
        config = pipeline.model_config(
            data["questions"], image_size=arguments.image_size, channels=channels
        )
        settings = pretraining.PretrainingSettings(epochs=arguments.pretrain_epochs)
        done = pretraining.pretrain_trunk(unlabelled, config, settings=settings, seed=seed)
        done.trunk.save(folder / "trunk.keras")
        source = sources.keras_source(folder / "trunk.keras", "self-supervised")
        points = {
            str(n): lever_points(
                data, [int(i) for i in data["initial"][:n]], seed, arguments, source
            )
            for n in arguments.labels
        }
        results[dataset] = {"pretraining": done.report, "points": points}
        nll = {n: {k: round(v["nll"], 3) for k, v in p.items()} for n, p in points.items()}
        print(f"seed {seed} {dataset}: {nll}", flush=True)
    return results


def summarise(seeds: list[dict], arguments) -> dict:
    """Per image kind, label count and lever: mean test NLL, its change against scratch (paired,
    with a 95% interval over seeds), coverage and seconds."""
    summary = {}
    for dataset in arguments.datasets:
        summary[dataset] = {}
        for n in map(str, arguments.labels):
            rows = [seed[dataset]["points"][n] for seed in seeds]
            scratch = np.array([row["scratch"]["nll"] for row in rows])
            entry = {}
            for lever in ("scratch", *LEVERS):
                nll = np.array([row[lever]["nll"] for row in rows])
                change = nll - scratch
                spread = 1.96 * change.std(ddof=1) / np.sqrt(len(change)) if len(change) > 1 else 0
                entry[lever] = {
                    "nll": round(float(nll.mean()), 4),
                    "change": round(float(change.mean()), 4),
                    "change_interval": [
                        round(float(change.mean() - spread), 4),
                        round(float(change.mean() + spread), 4),
                    ],
                    "coverage": {
                        mass: round(
                            float(np.mean([row[lever]["coverage"][mass] for row in rows])), 3
                        )
                        for mass in ("50", "80", "95")
                    },
                    "seconds": round(float(np.mean([row[lever]["seconds"] for row in rows])), 1),
                }
            entry["baseline_nll"] = round(
                float(np.mean([r["scratch"]["baseline_nll"] for r in rows])), 4
            )
            entry["floor"] = round(float(np.mean([r["scratch"]["floor"] for r in rows])), 4)
            summary[dataset][n] = entry
        summary[dataset]["pretraining_seconds"] = round(
            float(np.median([seed[dataset]["pretraining"]["seconds"] for seed in seeds])), 1
        )
    return summary


def headline(summary: dict) -> dict:
    """`levers`: each lever's mean change of test NLL against scratch, per image kind and labels."""
    return {
        "levers": {
            dataset: {
                lever: {n: entry[lever]["change"] for n, entry in by_labels.items() if n.isdigit()}
                for lever in LEVERS
            }
            for dataset, by_labels in summary.items()
        },
        "pretraining_seconds": {d: summary[d]["pretraining_seconds"] for d in summary},
    }


def readme_section(result: dict, when: str) -> str:
    """The README's lever table, every figure from the result file."""
    summary, settings = result["summary"], result["settings"]
    lines = [
        "### Levers for a model that learns from few labels (`make bench-levers`)",
        "",
        f"A screen of first models: {settings['seeds']} seeds, the first "
        f"{' and '.join(map(str, settings['labels']))} random labels of the active-learning pool, "
        f"test sets of {settings['test']:,}, two image kinds (synthetic galaxies, grey; "
        "fluorescence cells, RGB, `benchmarks/datasets/cells.py`). Test vote NLL in nats, mean over "
        "seeds, and its change against today's model with a 95% interval over seeds (negative is "
        f"better). Run of {when} ({common.duration(result)}, `benchmarks/results/levers.json`):",
        "",
        "| image kind | labels | lever | test NLL | change | 50/80/95% coverage | fit seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, by_labels in summary.items():
        for n, entry in by_labels.items():
            if not n.isdigit():
                continue
            for lever in ("scratch", *LEVERS):
                row = entry[lever]
                low, high = row["change_interval"]
                change = (
                    "—"
                    if lever == "scratch"
                    else f"{row['change']:+.3f} ({low:+.3f} to {high:+.3f})"
                )
                coverage = " / ".join(f"{row['coverage'][m]:.0%}" for m in ("50", "80", "95"))
                lines.append(
                    f"| {dataset} | {n} | {lever} | {row['nll']:.3f} | {change} | {coverage} | "
                    f"{row['seconds']:.0f} |"
                )
    lines += [
        "",
        "Image-free baseline and vote-noise floor: "
        + "; ".join(
            f"{d} {n} labels {e['baseline_nll']:.3f} / {e['floor']:.3f}"
            for d, by in summary.items()
            for n, e in by.items()
            if n.isdigit()
        )
        + ". Pretraining took "
        + ", ".join(f"{d} {s['pretraining_seconds']:.0f} s" for d, s in summary.items())
        + " a seed (median).",
    ]
    return "\n".join([*lines, "", "![levers](benchmarks/results/levers.png)"])


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    seeds = common.run_seeds(run_seed, arguments, range(arguments.seeds), arguments.jobs)
    summary = summarise(seeds, arguments)
    result = common.record(
        headline(summary), arguments, argv, "levers.py", started, summary=summary, seeds=seeds
    )
    plots.levers(summary, common.write_result(result, arguments.results_dir, arguments.output))
    return result


if __name__ == "__main__":
    main()
