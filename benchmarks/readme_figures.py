"""Write the README's active-learning section from `benchmarks/results/active_learning.json`.

The figures in the README come from the result file, never by hand:

    .venv/bin/python benchmarks/readme_figures.py      # (make bench-active-learning runs it)
"""

import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "active_learning.json"
START, END = "<!-- active-learning -->", "<!-- /active-learning -->"


def percent(value) -> str:
    return f"{value:.0%}" if value is not None else "—"


def interval(pair) -> str:
    low, high = pair
    return f"{low:.0%} to {high:.0%}" if low == low else "—"  # NaN: too few seeds


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
            f"{percent(saving[k])} ({interval(bounds[k])})" for k in ("quarter", "half", "full")
        ]
        rows.append(
            f"| {name} | {' | '.join(cells)} | {entry['area_between_curves_nats']:+.3f} | {final} |"
        )
    return rows


def duration(result: dict) -> str:
    if result.get("seconds") is None:
        return "its duration not recorded"
    return f"{result['seconds'] / 60:.0f} minutes on this 2-core machine"


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


def section(result: dict, when: str) -> str:
    settings, headline, labelled = result["settings"], result["headline"], result["labelled"]
    summary = result["summary"]
    random_nll, baseline_nll = summary["random"]["nll_mean"], summary["random"]["baseline_nll_mean"]
    cells = sum(len(c) for curves in result["curves"].values() for c in curves)
    coverage = headline["coverage_random_300"]
    lines = [
        START,
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
        "joint MI of the tree's vote outcome). Test NLL is the expected vote NLL of the whole "
        "tree under the true p (exact, no test-vote noise). Savings: labels needed to reach "
        "random's mean NLL at a quarter, half and all of the budget, with paired BCa bootstrap "
        "95% intervals over seeds. Figures from the run of "
        f"{when} ({duration(result)}, `benchmarks/results/active_learning.json`):",
        "",
        *cut_short(result),
        *strategy_rows(result),
        "",
        f"- Vote-noise floor (entropy of the true vote outcome): {result['vote_noise_floor_nll']:.3f}; "
        f"the image-free baseline (Dirichlet-multinomial per question, fitted on random's labels) "
        f"scores {baseline_nll[0]:.3f} at {labelled[0]} labels and {baseline_nll[-1]:.3f} at "
        f"{labelled[-1]}; random's CNN {random_nll[0]:.3f} and {random_nll[-1]:.3f}.",
        f"- Seed x round x strategy cells where the CNN's test NLL was above the baseline's: "
        f"**{headline['rounds_worse_than_baseline']} of {cells}**.",
        f"- Calibration of random's CNN at {headline['coverage_labelled']} labels (share of test "
        f"votes inside the central 50/80/95% vote intervals, randomised for discrete votes): "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
        f"- Random's curve at the end of the budget falls {-headline['random_final_slope_per_100']:.3f} "
        "nats per 100 labels.",
        f"- Default strategy picked by this run: **{headline['default_strategy']}** "
        "(the largest saving at the full budget).",
        "",
        "![active learning](benchmarks/results/active_learning.png)",
        "",
        "The same run works on any image set given as `.npz` (`images`, `p`): "
        "`python benchmarks/datasets/oriented_bars.py bars.npz` writes one whose answers depend "
        "on orientation, run with `--dataset bars.npz --no-rotation-invariant`. "
        "`--preset every-strategy` adds power and diverse BALD.",
        END,
    ]
    return "\n".join(lines)


def main(result_path: Path = RESULT, readme: Path = ROOT / "README.md") -> None:
    result = json.loads(result_path.read_text())
    when = datetime.date.fromtimestamp(result_path.stat().st_mtime).isoformat()
    text = readme.read_text()
    if START not in text or END not in text:
        sys.exit(f"{readme} has no {START} ... {END} markers to fill")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(before + section(result, when) + after)
    print(f"README: active-learning section written from {result_path}")


if __name__ == "__main__":
    main()
