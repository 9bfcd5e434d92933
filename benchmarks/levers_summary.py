"""The levers screen's figures: per image kind, label count and lever the mean test NLL and its
change against scratch (paired by seed), the headline the issues read, and the README's tables."""

import numpy as np

from benchmarks import runs

README_MARKER = "levers"
# Every lever a screen may hold, in the order the tables show them.
LEVERS = (
    "symmetries", "temperature", "overdispersion", "pooled", "combined", "ensemble", "selection",
    "pretrained", "consistency", "views_8", "views_4", "views_2",
)  # fmt: skip
# `combined` under fewer views in all, dealt out over its two networks: {lever: views}.
VIEWS = {"views_8": 8, "views_4": 4, "views_2": 2}
# The networks `selection` weighs against today's on the validation subjects: smaller, and today's
# with ten times the weight decay.
SIZES = {
    "small": {"conv_filters": (16, 16, 32, 32), "dense_units": 32},
    "regularised": {"weight_decay": 1e-2},
}


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
            for lever in ("scratch", *arguments.levers):
                nll = np.array([row[lever]["nll"] for row in rows])
                change, interval = paired_change(nll, scratch)
                entry[lever] = {
                    "nll": round(float(nll.mean()), 4),
                    "change": change,
                    "change_interval": interval,
                    "coverage": {
                        mass: round(
                            float(np.mean([row[lever]["coverage"][mass] for row in rows])), 3
                        )
                        for mass in ("50", "80", "95")
                    },
                    "seconds": round(float(np.mean([row[lever]["seconds"] for row in rows])), 1),
                }
            if "combined" in arguments.levers:
                combined = np.array([row["combined"]["nll"] for row in rows])
                for lever in (name for name in VIEWS if name in arguments.levers):
                    nll = np.array([row[lever]["nll"] for row in rows])
                    change, interval = paired_change(nll, combined)
                    entry[lever]["against_combined"] = {"change": change, "interval": interval}
            entry["baseline_nll"] = round(
                float(np.mean([r["scratch"]["baseline_nll"] for r in rows])), 4
            )
            entry["floor"] = round(float(np.mean([r["scratch"]["floor"] for r in rows])), 4)
            summary[dataset][n] = entry
        summary[dataset]["pretraining_seconds"] = round(
            float(np.median([seed[dataset]["pretraining"]["seconds"] for seed in seeds])), 1
        )
    return summary


def paired_change(nll: np.ndarray, reference: np.ndarray) -> tuple[float, list[float]]:
    """Mean change of test NLL [seeds] against a reference's on the same seeds, with its 95%
    interval (normal, over seeds)."""
    change = nll - reference
    spread = 1.96 * change.std(ddof=1) / np.sqrt(len(change)) if len(change) > 1 else 0.0
    mean = float(change.mean())
    return round(mean, 4), [round(mean - spread, 4), round(mean + spread, 4)]


def screened(by_labels: dict) -> list[str]:
    """The levers a summary of one image kind holds, in LEVERS order."""
    return [lever for lever in LEVERS if lever in first_entry(by_labels)]


def headline(summary: dict) -> dict:
    """`levers`: each lever's mean change of test NLL against scratch, per image kind and labels."""
    return {
        "levers": {
            dataset: {
                lever: {n: entry[lever]["change"] for n, entry in by_labels.items() if n.isdigit()}
                for lever in screened(by_labels)
            }
            for dataset, by_labels in summary.items()
        },
        "pretraining_seconds": {d: summary[d]["pretraining_seconds"] for d in summary},
        # Fewer views against every network every view, paired by seed: {kind: {lever: {labels:
        # {"change", "interval"}}}} (empty when the screen did not hold `combined` and them).
        "views_against_combined": {
            dataset: {
                lever: {
                    n: entry[lever]["against_combined"]
                    for n, entry in by_labels.items()
                    if n.isdigit()
                }
                for lever in screened(by_labels)
                if lever in VIEWS and "against_combined" in first_entry(by_labels)[lever]
            }
            for dataset, by_labels in summary.items()
        },
    }


def first_entry(by_labels: dict) -> dict:
    """One label count's entry of an image kind's summary."""
    return next(entry for n, entry in by_labels.items() if n.isdigit())


def readme_section(
    result: dict,
    when: str,
    levers_more: tuple | None = None,
    levers_consistency: tuple | None = None,
    levers_views: tuple | None = None,
) -> str:
    """The README's lever tables, every figure from the result files (`levers_more`,
    `levers_consistency`, `levers_views`: later screens, each with its own scratch fits)."""
    settings = result["settings"]
    lines = [
        "### Levers for a model that learns from few labels (`make bench-levers`)",
        "",
        f"A screen of first models: {settings['seeds']} seeds, the first "
        f"{' and '.join(map(str, settings['labels']))} random labels of the active-learning pool, "
        f"test sets of {settings['test']:,}, two image kinds (synthetic galaxies, grey; "
        "fluorescence cells, RGB, `benchmarks/datasets/cells.py`). Test vote NLL in nats, mean over "
        "seeds, and its change against today's model with a 95% interval over seeds (negative is "
        f"better). Run of {when} ({runs.duration(result)}, `benchmarks/results/levers.json`):",
        "",
        *lever_table(result["summary"]),
    ]
    if levers_more:
        more, more_when = levers_more
        lines += [
            "",
            f"A second screen, same seeds, data and test sets, its own scratch fits (run of "
            f"{more_when}, {runs.duration(more)}, `benchmarks/results/levers_more.json`): "
            "`overdispersion` spreads each MC sample into a Dirichlet-multinomial with a "
            "concentration chosen on the validation subjects; `pooled` keeps both of the fit's "
            "fresh restarts and shares the MC samples between them (no extra training); "
            "`combined` is `pooled` with the 8 symmetries; `selection` picks, on the validation "
            f"subjects, among today's network and {', '.join(SIZES)} ({SIZES}).",
            "",
            *lever_table(more["summary"]),
            "",
            *default_lines(more["summary"]),
            "",
            "![more levers](benchmarks/results/levers_more.png)",
        ]
    if levers_consistency:
        other, other_when = levers_consistency
        lines += [
            "",
            f"A third screen, same seeds, data and test sets (run of {other_when}, "
            f"{runs.duration(other)}, `benchmarks/results/levers_consistency.json`): "
            "`consistency` trains on the labels and, every step, pulls the network's mean answers "
            "on one augmented view of unlabelled images (the pool and "
            f"{other['settings']['unlabelled']:,} more, never the test set) towards another's, "
            f"weight {other['settings']['consistency_weight']:g} (`mlworker/consistency.py`).",
            "",
            *lever_table(other["summary"]),
        ]
    if levers_views:
        lines += ["", *views_lines(*levers_views)]
    return "\n".join([*lines, "", "![levers](benchmarks/results/levers.png)"])


def views_lines(result: dict, when: str) -> list[str]:
    """The fourth screen: `combined` scored under fewer views, against scratch and against
    `combined` itself (paired by seed)."""
    lines = [
        f"A fourth screen (issue 39), {result['settings']['seeds']} of the same seeds, data and "
        f"test sets (run of {when}, {runs.duration(result)}, "
        "`benchmarks/results/levers_views.json`): `combined` scored under fewer of the 8 "
        "symmetries in all, dealt out over its two networks so that they take different views "
        "(`mlworker/scoring.py`, `view_plan`): `views_8` four each, `views_4` two each, `views_2` "
        "one each (the image itself and its transpose): 8, 4 and 2 trunk passes an image where "
        "`combined` runs 16 and `pooled` 2. The last column is the change against `combined`, "
        "paired by seed, with its 95% interval.",
        "",
        "| image kind | labels | lever | test NLL | change vs scratch | vs combined | "
        "50/80/95% coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, by_labels in result["summary"].items():
        for n, entry in ((n, e) for n, e in by_labels.items() if n.isdigit()):
            for lever in ("scratch", *screened(by_labels)):
                row = entry[lever]
                against = row.get("against_combined")
                coverage = " / ".join(f"{row['coverage'][m]:.0%}" for m in ("50", "80", "95"))
                lines.append(
                    f"| {dataset} | {n} | {lever} | {row['nll']:.3f} | "
                    f"{'—' if lever == 'scratch' else signed(row['change'], row['change_interval'])}"
                    f" | {signed(against['change'], against['interval']) if against else '—'} | "
                    f"{coverage} |"
                )
    return lines


def signed(change: float, interval: list[float]) -> str:
    """A change with its interval, signed: "-0.012 (-0.030 to +0.006)"."""
    return f"{change:+.3f} ({interval[0]:+.3f} to {interval[1]:+.3f})"


def default_lines(summary: dict) -> list[str]:
    """Which lever production took as its default, and how it fared in every cell of the screen."""
    cells = [(d, n, by[n]) for d, by in summary.items() for n in by if n.isdigit()]
    if "combined" not in cells[0][2]:
        return []
    best = [
        min(screened({n: entry}), key=lambda lever: entry[lever]["nll"]) for _, n, entry in cells
    ]
    below_zero = sum(entry["combined"]["change_interval"][1] < 0 for _, _, entry in cells)
    return [
        "Production's default since issue 25 is `combined` (`TrainingSettings.members` = 2, and "
        "`pipeline.model_config` scores rotation-invariant projects under the 8 symmetries): the "
        f"lowest test NLL in {best.count('combined')} of {len(cells)} image-kind-and-label cells "
        f"of this screen, its interval below 0 in {below_zero} of {len(cells)}. Its cost: a first "
        "model trains what today's does (two initialisations, now both kept), every later round "
        "trains two networks where today's trains one, and scoring runs a trunk 16 times an image "
        "(8 views of 2 networks) where today's runs one once."
    ]


def lever_table(summary: dict) -> list[str]:
    """One screen's table, its baselines and floors, and its pretraining time when it pretrained."""
    lines = [
        "| image kind | labels | lever | test NLL | change | 50/80/95% coverage | fit seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset, by_labels in summary.items():
        for n, entry in by_labels.items():
            if not n.isdigit():
                continue
            for lever in ("scratch", *screened(by_labels)):
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
        + ".",
    ]
    if any(by["pretraining_seconds"] for by in summary.values()):
        lines[-1] += (
            " Pretraining took "
            + ", ".join(f"{d} {s['pretraining_seconds']:.0f} s" for d, s in summary.items())
            + " a seed (median)."
        )
    return lines
