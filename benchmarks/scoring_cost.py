"""What scoring an image costs on the default model, stage by stage, against one network (issue 39).

Per image size, untrained networks of production's layout (`pipeline.model_config`; the cost does not
depend on the weights) score the same synthetic galaxies at the same T as production's
`pipeline.score` does: MC samples (`scoring.mc_samples`), then the tree's joint information
(`outcomes.information`, 15 volunteers). Variants:

- `single`: one network, no symmetries (the model before issues 25 and 42);
- `views_<V>` / `views_all`: the default's networks (two) under `V` of the image's 8 symmetries in all,
  dealt out over the networks (`scoring.view_plan`; `all`: every network every view).

Each round times every variant once, in an order rotated from round to round; the figures are the
medians over rounds of seconds per 1,000 images: `trunk` (the plan's trunk passes alone,
`scoring.features`), `samples` (`mc_samples`: trunk and head), `information`, and `total`
(samples + information), and each variant's total as a multiple of `single`'s in the same round.

    .venv/bin/python -m benchmarks.scoring_cost [--sizes 16,64] [--images 300] [--rounds 5]
"""

import argparse
import time

import numpy as np

from benchmarks import runs

VARIANTS = {"single": 1, "views_2": 2, "views_4": 4, "views_8": 8, "views_all": None}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,64")
    parser.add_argument("--images", type=int, default=300, help="images scored per variant")
    parser.add_argument("--samples", type=int, default=15, help="T, as the pool benchmark's")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--output", default="scoring_cost")
    arguments = parser.parse_args(argv)
    arguments.sizes = [int(size) for size in arguments.sizes.split(",")]
    arguments.variants = [name for name in arguments.variants.split(",") if name]
    unknown = set(arguments.variants) - set(VARIANTS)
    if unknown or "single" not in arguments.variants:
        parser.error(f"--variants: expected 'single' and some of {list(VARIANTS)}, got {unknown}")
    return arguments


def networks(size: int, questions=None) -> dict:
    """Untrained networks of production's layout at `size` px (the galaxy tree unless given):
    {"single": one network without symmetries, "default": production's default version for a
    rotation-invariant project (`TrainingSettings.members` networks under the symmetries)}."""
    from mlworker import pipeline, synthetic
    from mlworker.model import build_model
    from mlworker.training_settings import DEFAULT_SETTINGS

    config = pipeline.model_config(
        questions or synthetic.GALAXY_TREE, image_size=size, rotation_invariant=True
    ).replace(members=DEFAULT_SETTINGS.members)
    single = build_model(config.replace(test_time_symmetries=1, members=1))
    members = [build_model(config) for _ in range(config.members)]
    members[0].extra_members = members[1:]
    return {"single": single, "default": members[0]}


def timed(variant: str, model, images: np.ndarray, samples: int) -> dict:
    """CPU seconds (this process's, every thread) of one variant's stages on `images`, and the
    wall seconds of the whole."""
    from mlworker import outcomes, scoring

    views = VARIANTS[variant]
    plan = scoring.view_plan(len(model.members), model.config.test_time_symmetries, views, samples)
    wall, began = time.perf_counter(), time.process_time()
    for (member, view), _ in plan:
        scoring.features(model.members[member], scoring.symmetry(images, view))
    trunk = time.process_time() - began
    began = time.process_time()
    drawn = scoring.mc_samples(model, images, samples=samples, views=views)
    sampled = time.process_time() - began
    began = time.process_time()
    outcomes.information(drawn, model.config.questions, 15, rng=np.random.default_rng(0))
    information = time.process_time() - began
    return {
        "trunk_passes": len(plan),
        "trunk": trunk,
        "head": max(sampled - trunk, 0.0),
        "samples": sampled,
        "information": information,
        "total": sampled + information,
        "wall": time.perf_counter() - wall,
    }


def measure_size(size: int, arguments) -> dict:
    """{variant: median seconds per 1,000 images per stage, and "times_single"}."""
    from mlworker import synthetic

    models = networks(size)
    images = synthetic.make_galaxies(arguments.images, size=size, seed=0).images[..., None]
    chosen = arguments.variants
    for variant in chosen:  # warm-up: every graph traced before timing
        timed(variant, models["single" if variant == "single" else "default"], images[:64], 15)
    rounds = []
    for index in range(arguments.rounds):
        order = chosen[index % len(chosen) :] + chosen[: index % len(chosen)]
        rounds.append(
            {
                variant: timed(
                    variant,
                    models["single" if variant == "single" else "default"],
                    images,
                    arguments.samples,
                )
                for variant in order
            }
        )
        print(size, "px round", index, {v: round(r["total"], 2) for v, r in rounds[-1].items()})
    per_thousand = 1000 / arguments.images
    result = {}
    for variant in chosen:
        stages = {
            stage: round(float(np.median([r[variant][stage] for r in rounds])) * per_thousand, 3)
            for stage in ("trunk", "head", "samples", "information", "total", "wall")
        }
        ratios = [r[variant]["total"] / r["single"]["total"] for r in rounds]
        result[variant] = {
            "trunk_passes": rounds[0][variant]["trunk_passes"],
            "seconds_per_1000": stages,
            "times_single": round(float(np.median(ratios)), 2),
            "times_single_range": [round(min(ratios), 2), round(max(ratios), 2)],
        }
    return result


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    started = time.time()
    sizes = {str(size): measure_size(size, arguments) for size in arguments.sizes}
    result = {
        "headline": {
            "times_single": {
                size: {variant: row["times_single"] for variant, row in by_variant.items()}
                for size, by_variant in sizes.items()
            }
        },
        "sizes": sizes,
        "settings": vars(arguments),
        "seconds": round(time.time() - started, 1),
        "command": "make bench-scoring-cost",
    }
    runs.write_result(result, runs.RESULTS, arguments.output)
    return result


def readme_row(result: dict) -> str:
    """This benchmark's row of the README's speed table (mc_scoring.readme_section)."""
    settings, cells = result["settings"], []
    for size, by_variant in result["sizes"].items():
        single = by_variant["single"]["seconds_per_1000"]
        parts = [
            f"{variant} ({row['trunk_passes']} trunk passes) **{row['times_single']:.1f}x**"
            for variant, row in by_variant.items()
            if variant != "single"
        ]
        cells.append(
            f"{size} px: one network {single['total']:.1f} CPU s per 1,000 (trunk "
            f"{single['trunk']:.1f}, the tree's information {single['information']:.1f}); "
            + ", ".join(parts)
        )
    return (
        f"| scoring an image on the default model | `{result['command']}` | {settings['images']:,} "
        f"images a size, T = {settings['samples']}, {settings['rounds']} rounds with the order "
        "rotated, `pipeline.score`'s stages on production's layout in CPU time (the machine is "
        "shared), times one network without "
        "symmetries (median of the per-round ratios; `views_<V>`: the default's two networks under "
        f"V of the 8 symmetries in all, `views_all`: every network every view): {'; '.join(cells)} |"
    )


if __name__ == "__main__":
    main()
