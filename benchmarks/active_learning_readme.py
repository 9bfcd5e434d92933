"""The README's active-learning section (`make bench-active-learning`), every figure from the
result files active_learning.py writes (the galaxies' and, when there, the cells')."""

from pathlib import Path

import numpy as np

from benchmarks import runs

README_MARKER = "active-learning"


def strategy_rows(result: dict) -> list[str]:
    summary, labelled = result["summary"], result["labelled"]
    rows = [
        "| strategy | saved at a quarter of the budget | at half | at the full budget | "
        f"area between curves (nats) | test NLL at {labelled[-1]} |",
        "|---|---|---|---|---|---|",
    ]
    default = result["headline"]["default_strategy"]
    for strategy, entry in summary.items():
        final = f"{entry['nll_mean'][-1]:.3f}"
        if strategy == "random":
            rows.append(f"| random | — | — | — | — | {final} |")
            continue
        saving, bounds = entry["saving"], entry["saving_interval"]
        name = f"**{strategy} (default)**" if strategy == default else strategy
        cells = [
            f"{runs.percent(saving[k])} ({runs.interval(bounds[k])})"
            for k in ("quarter", "half", "full")
        ]
        rows.append(
            f"| {name} | {' | '.join(cells)} | {entry['area_between_curves_nats']:+.3f} | {final} |"
        )
    return rows


def cut_short(result: dict) -> list[str]:
    """Say so when the figures come from the seeds a cut-short run finished."""
    settings = result["settings"]
    if not settings.get("from_partial"):
        return []
    return [
        f"**Cut short:** these figures summarise the {settings['seeds']} seeds that a run "
        f"finished before it was stopped (`--from-partial {Path(settings['from_partial']).name}`), "
        f"with strategies {', '.join(settings['strategies'])} and {settings['rounds']} rounds.",
        "",
    ]


def coverage_lines(result: dict) -> list[str]:
    """Random's CNN's mean 50/80/95% coverage over seeds at every point from 300 labels on."""
    curves, masses = result["curves"]["random"], ("50", "80", "95")
    points = [
        f"{n}: "
        + " / ".join(
            f"{np.mean([curve[i]['coverage'][m] for curve in curves]):.0%}" for m in masses
        )
        for i, n in enumerate(result["labelled"])
        if n >= 300
    ]
    if not points:
        return []
    return ["- The same at every point from 300 labels on: " + "; ".join(points) + "."]


def gate_lines(result: dict) -> list[str]:
    """How often production's held-out gate stopped a version from steering, and the targets."""
    points = [p for curves in result["curves"].values() for c in curves for p in c]
    flagged = sum(bool(p.get("held_out_flagged_worse")) for p in points)
    random_picks = sum(p.get("picked_by") == "random" for p in points)
    lines = [
        f"- Versions production's held-out gate marked worse than the baseline: {flagged} of "
        f"{len(points)}; rounds whose picks were therefore random (no good version yet): "
        f"{random_picks}."
    ]
    rival = result["headline"]["default_strategy"]
    saving, intervals = (result["headline"][key][rival] for key in ("saving", "saving_interval"))
    met = all(saving[t] >= 0.35 and intervals[t][0] > 0 for t in ("half", "full"))
    lines.append(
        "- The issue's target (≥ 35% of labels saved at random's half- and full-budget NLL, 95% "
        f"intervals excluding 0) is **{'met' if met else 'not met'}** by {rival}."
    )
    return lines


def by_start_text(headline: dict) -> str:
    """ "scratch 1, default 0": the cells worse than the baseline, per start."""
    by_start = headline.get("rounds_worse_than_baseline_by_start")
    if not by_start:
        return str(headline["rounds_worse_than_baseline"])
    return ", ".join(f"{start} {count}" for start, count in by_start.items())


def start_rows(result: dict, name: str) -> list[str]:
    """One image set's table: each start and strategy against scratch-random (issue 25)."""
    headline, labelled = result["headline"], result["labelled"]
    savings = headline.get("saving_vs_scratch_random")
    if not savings:
        return []
    intervals, summaries = headline["saving_vs_scratch_random_interval"], result["summary_by_start"]
    rows = [
        f"| {name}: start and strategy | saved at a quarter | at half | at the full budget | "
        f"test NLL at {labelled[0]} / {labelled[-1]} |",
        "|---|---|---|---|---|",
    ]
    for start, by_strategy in summaries.items():
        for strategy, entry in by_strategy.items():
            nll = f"{entry['nll_mean'][0]:.3f} / {entry['nll_mean'][-1]:.3f}"
            arm = f"{start}_{strategy}"
            if arm not in savings:
                rows.append(f"| {start}, {strategy} (the reference) | — | — | — | {nll} |")
                continue
            quarter = runs.percent(savings[arm]["quarter"])
            cells = [
                f"{runs.percent(savings[arm][k])} ({runs.interval(intervals[arm][k])})"
                for k in ("half", "full")
            ]
            rows.append(f"| {start}, {strategy} | {quarter} | {' | '.join(cells)} | {nll} |")
    return rows


# The other image kinds a run of `make bench-active-learning` writes: (result name, how the README
# names them, what they are).
OTHER_KINDS = (
    (
        "active_learning_cells",
        "cells",
        "Fluorescence cells (`benchmarks/datasets/cells.py`, RGB, two questions)",
    ),
    (
        "active_learning_tissue",
        "tissue",
        "Crops of a real immunohistochemistry slide (`benchmarks/datasets/tissue.py`: scikit-image's "
        "bundled IHC image, truth from its DAB stain; RGB, two questions in a tree)",
    ),
)


def other_kind_lines(other: dict, when: str, result_name: str, name: str, what: str) -> list[str]:
    """Another image kind's table of starts and its coverage and cells worse than the baseline."""
    return [
        "",
        f"{what}, the same run on {other['settings']['seeds']} seeds (run of {when}, "
        f"{runs.duration(other)}, `benchmarks/results/{result_name}.json`):",
        "",
        *start_rows(other, name),
        "",
        "- Coverage near 300 labels, scratch-random / default-random: "
        + " and ".join(
            " / ".join(f"{c[m]:.0%}" for m in ("50", "80", "95"))
            for c in (
                other["headline"]["coverage_random_300"],
                other["headline"]["coverage_new_default_300"],
            )
        )
        + "; cells worse than the baseline: "
        + by_start_text(other["headline"])
        + ".",
    ]


def coverage_table(kinds: list[tuple[str, dict]]) -> list[str]:
    """The default's 50/80/95% coverage with random picks at every point from 300 labels, one
    column per image kind (`coverage_new_default_by_labelled` of each result)."""
    by_kind = [
        (name, result["headline"].get("coverage_new_default_by_labelled")) for name, result in kinds
    ]
    by_kind = [(name, coverage) for name, coverage in by_kind if coverage]
    if not by_kind:
        return []
    labelled = sorted({int(n) for _, coverage in by_kind for n in coverage if int(n) >= 300})
    rows = [
        "",
        "The default's vote intervals with random picks, share of test votes inside its 50 / 80 / "
        "95% intervals (within 3 points of 50 / 80 / 95 is issue 42's target):",
        "",
        "| labelled | " + " | ".join(name for name, _ in by_kind) + " |",
        "|---|" + "---|" * len(by_kind),
    ]
    for n in labelled:
        cells = [
            " / ".join(f"{coverage[str(n)][m]:.0%}" for m in ("50", "80", "95"))
            if str(n) in coverage
            else "—"
            for _, coverage in by_kind
        ]
        rows.append(f"| {n} | " + " | ".join(cells) + " |")
    return rows


def starts_lines(result: dict, others: dict) -> list[str]:
    """The comparison of today's model (scratch) with the new default on every image kind, and
    the default's coverage on each side by side. others: {result name: (result, date)}."""
    if "summary_by_start" not in result:
        return []
    settings = result["training"].get("default", {})
    coverage = result["headline"]["coverage_new_default_300"]
    lines = [
        "",
        "### The model before issue 25 (scratch) against the new default",
        "",
        "Same seeds, data, test sets and first labels; `scratch` is one network, the better of two "
        "initialisations on the validation NLL, scored on the image as it is, its samples as drawn; "
        f"`default` is production's default: {settings.get('members', '?')} networks whose MC "
        "samples are pooled, scored under the image's 8 symmetries (README, levers)"
        + (
            f", calibrated per version on its validation subjects ({settings['calibration']}, "
            "`mlworker/calibration.py`)"
            if settings.get("calibration", "none") != "none"
            else ""
        )
        + ". Labels saved to reach "
        "scratch-random's mean NLL at a quarter, half and all of the budget, paired BCa 95% "
        "intervals over seeds:",
        "",
        *start_rows(result, "galaxies"),
        "",
        f"- The new default with random picks, near 300 labels: 50/80/95% coverage "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
    ]
    kinds = [("galaxies", result)]
    for result_name, name, what in OTHER_KINDS:
        if result_name in others:
            other, when = others[result_name]
            lines += other_kind_lines(other, when, result_name, name, what)
            kinds.append((name, other))
    return lines + coverage_table(kinds)


def readme_section(result: dict, when: str, **others: tuple) -> str:
    """The README's active-learning section (between its markers), every figure from the result
    (and the other image kinds', `active_learning_cells` / `active_learning_tissue`: (result,
    date), when there)."""
    settings, headline, labelled = result["settings"], result["headline"], result["labelled"]
    summary = result["summary"]
    random_nll, baseline_nll = summary["random"]["nll_mean"], summary["random"]["baseline_nll_mean"]
    every = result.get("curves_by_start", {"scratch": result["curves"]})
    cells = sum(len(c) for by in every.values() for curves in by.values() for c in curves)
    coverage = headline["coverage_random_300"]
    lines = [
        "## Does active learning save votes? (`make bench-active-learning`)",
        "",
        f"Synthetic galaxies whose true answer probabilities follow from what is drawn "
        f"(`mlworker/synthetic.py`); per seed a pool of {settings['pool']:,} and a test set of "
        f"{settings['test']:,} at {settings['image_size']} px, galaxies, votes and choices from "
        f"independent random streams; {settings['volunteers']} simulated volunteers per labelled "
        f"galaxy voting Binomial(N, true p) down the tree; {settings['initial']} random labels to "
        f"start, then {settings['rounds']} rounds of {settings['batch']}; T = {settings['samples']} "
        f"masks; {settings['seeds']} seeds, every strategy starting from the same labelled set and "
        "the same first model. Each round runs production's own functions (`mlworker.pipeline`: "
        "fit on the train split, stop on the fixed validation split, judge on the held-out split; "
        "joint MI of the tree's vote outcome); as in production, a version judged worse than the "
        "image-free baseline neither picks the next subjects nor is warm-started from. Test NLL is the expected vote NLL of the whole "
        "tree under the true p (exact, no test-vote noise). Savings: labels needed to reach "
        "random's mean NLL at a quarter, half and all of the budget, with paired BCa bootstrap "
        "95% intervals over seeds. Figures from the run of "
        f"{when} ({runs.duration(result)}, `benchmarks/results/active_learning.json`):",
        "",
        *cut_short(result),
        *strategy_rows(result),
        "",
        f"- Vote-noise floor (entropy of the true vote outcome): {result['vote_noise_floor_nll']:.3f}; "
        f"the image-free baseline (Dirichlet-multinomial per question, fitted on random's labels) "
        f"scores {baseline_nll[0]:.3f} at {labelled[0]} labels and {baseline_nll[-1]:.3f} at "
        f"{labelled[-1]}; random's CNN {random_nll[0]:.3f} and {random_nll[-1]:.3f}.",
        f"- Seed x round x strategy (x start) cells where the CNN's test NLL was above the "
        "baseline's: "
        f"**{headline['rounds_worse_than_baseline']} of {cells}**"
        + (
            f" ({by_start_text(headline)})"
            if "rounds_worse_than_baseline_by_start" in headline
            else ""
        )
        + ".",
        f"- Calibration of random's CNN at {headline['coverage_labelled']} labels (share of test "
        f"votes inside the central 50/80/95% vote intervals, randomised for discrete votes): "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
        *coverage_lines(result),
        *gate_lines(result),
        f"- Random's curve at the end of the budget falls {-headline['random_final_slope_per_100']:.3f} "
        "nats per 100 labels.",
        f"- Default strategy picked by this run: **{headline['default_strategy']}** "
        "(the largest saving at the full budget).",
        "",
        *starts_lines(result, others),
        "",
        "![active learning](benchmarks/results/active_learning.png)",
        "",
        "The same run works on any image set given as `.npz` (`images`, `p`): "
        "`python -m benchmarks.datasets.oriented_bars bars.npz` writes one whose answers depend "
        "on orientation, run with `--dataset bars.npz --no-rotation-invariant`. "
        "`--preset every-strategy` adds power and diverse BALD.",
    ]
    return "\n".join(lines)
