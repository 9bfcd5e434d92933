"""MC dropout scoring speed: trunk once + head T times, against one plain pass and the naive loop.

All three run in the same process on the same images, so the ratios hold on a noisy machine.
Writes benchmarks/results/mc_scoring.json (headline: mc30_vs_single_pass, mc30_vs_naive) and a plot.

    .venv/bin/python benchmarks/mc_scoring.py [--images 2000] [--size 64] [--repeats 3]
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results"


def best_rate(function, items: int, repeats: int) -> float:
    """Images per second of the fastest of `repeats` runs (after one warm-up)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return items / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument(
        "--naive-images", type=int, default=300, help="the naive loop is slow: fewer images"
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    arguments = parser.parse_args()

    from mlworker import scoring, synthetic
    from mlworker.model import ModelConfig, QuestionConfig, build_model

    questions = tuple(
        QuestionConfig(q["key"], tuple(a["key"] for a in q["answers"]))
        for q in synthetic.GALAXY_QUESTIONS
    )
    model = build_model(ModelConfig(image_size=arguments.size, questions=questions))
    images = synthetic.make_galaxies(arguments.images, size=arguments.size, seed=0).images[
        ..., None
    ]
    naive_images = images[: arguments.naive_images]
    batch = arguments.batch_size

    def single_pass():
        model.full.predict(images, batch_size=batch, verbose=0)

    rates = {"single_pass": best_rate(single_pass, len(images), arguments.repeats)}
    for samples in (15, 30):
        rates[f"mc{samples}_trunk_once"] = best_rate(
            lambda s=samples: scoring.mc_samples(model, images, samples=s, batch_size=batch),
            len(images),
            arguments.repeats,
        )
        rates[f"mc{samples}_naive"] = best_rate(
            lambda s=samples: scoring.mc_samples_generic(
                model, naive_images, samples=s, batch_size=batch
            ),
            len(naive_images),
            max(1, arguments.repeats - 1),
        )
    headline = {
        "mc30_vs_single_pass": rates["mc30_trunk_once"] / rates["single_pass"],
        "mc30_vs_naive": rates["mc30_trunk_once"] / rates["mc30_naive"],
        "mc15_vs_single_pass": rates["mc15_trunk_once"] / rates["single_pass"],
        "mc15_vs_naive": rates["mc15_trunk_once"] / rates["mc15_naive"],
    }
    result = {
        "headline": {key: round(value, 3) for key, value in headline.items()},
        "images_per_second": {key: round(value, 1) for key, value in rates.items()},
        "settings": vars(arguments),
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor(),
            "cores": __import__("os").cpu_count(),
        },
        "command": "make bench-mc-scoring",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mc_scoring.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rates, RESULTS / "mc_scoring.png")
    print(json.dumps(result["headline"], indent=2))
    print(json.dumps(result["images_per_second"], indent=2))


def plot(rates: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rates)
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.barh(
        names,
        [rates[name] for name in names],
        color=["grey", "tab:blue", "tab:red", "tab:blue", "tab:red"],
    )
    axes.set_xscale("log")
    axes.set_xlabel("images / second (log scale)")
    axes.set_title("MC dropout scoring, 64x64 grey, paper-shaped CNN")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
