"""Write the README's benchmark sections from their result files (active learning, first round,
retirement, transfer, and the speed table from mc_scoring, round_time and pool_scale).

The figures in the README come from the result files, never by hand:

    .venv/bin/python benchmarks/readme_figures.py      # (every make bench-* target whose
                                                       #  result it reads runs it)
"""

import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULT = RESULTS / "active_learning.json"
START, END = "<!-- active-learning -->", "<!-- /active-learning -->"
RETIREMENT = RESULTS / "retirement.json"
RETIREMENT_START, RETIREMENT_END = "<!-- retirement -->", "<!-- /retirement -->"
FIRST_ROUND = RESULTS / "first_round.json"
SPEED = {name: RESULTS / f"{name}.json" for name in ("mc_scoring", "round_time", "pool_scale")}
SPEED_START, SPEED_END = "<!-- speed -->", "<!-- /speed -->"
FIRST_START, FIRST_END = "<!-- first-round -->", "<!-- /first-round -->"
TRANSFER = RESULTS / "transfer.json"
TRANSFER_START, TRANSFER_END = "<!-- transfer -->", "<!-- /transfer -->"


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


def coverage_from_300(result: dict) -> list[tuple[int, dict]]:
    """[(labels, mean 50/80/95% coverage of random's CNN over seeds)] for every point >= 300."""
    curves = result["curves"]["random"]
    return [
        (
            n,
            {
                m: float(np.mean([curve[i]["coverage"][m] for curve in curves]))
                for m in ("50", "80", "95")
            },
        )
        for i, n in enumerate(result["labelled"])
        if n >= 300
    ]


def coverage_lines(result: dict) -> list[str]:
    points = coverage_from_300(result)
    if not points:
        return []
    return [
        "- The same at every point from 300 labels on: "
        + "; ".join(
            f"{n}: " + " / ".join(f"{c[m]:.0%}" for m in ("50", "80", "95")) for n, c in points
        )
        + "."
    ]


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
    saving, intervals = (
        result["headline"]["saving"][rival],
        result["headline"]["saving_interval"][rival],
    )
    met = all(saving[t] >= 0.35 and intervals[t][0] > 0 for t in ("half", "full"))
    lines.append(
        "- The issue's target (≥ 35% of labels saved at random's half- and full-budget NLL, 95% "
        f"intervals excluding 0) is **{'met' if met else 'not met'}** by {rival}."
    )
    return lines


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
        "joint MI of the tree's vote outcome); as in production, a version judged worse than the "
        "image-free baseline neither picks the next subjects nor is warm-started from. Test NLL is the expected vote NLL of the whole "
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
        *coverage_lines(result),
        *gate_lines(result),
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


def meets_target(entry: dict) -> bool:
    """Issue 14's target: >= 40% saved, the interval above 0, <= 2% of model-retired off by 0.2."""
    return (
        entry["votes_saved"] >= 0.4
        and entry["votes_saved_interval"][0] > 0
        and entry["share_off_by_0_2"] <= 0.02
    )


def rule_name(rule: str, settings: dict) -> str:
    """'0.1/0.3' -> 'width < 0.1 / change < 0.3 / minimum 3' (the run's defaults filled in)."""
    parts = rule.split("/")
    change = parts[1] if len(parts) > 1 else "1"
    minimum = parts[2] if len(parts) > 2 else settings["minimum_votes"]
    return f"width < {parts[0]} / change < {change} / minimum {minimum}"


def retirement_section(result: dict, when: str) -> str:
    settings, headline = result["settings"], result["headline"]
    rows = [
        "| rule (interval width / max expected change / minimum votes) | votes spent | final catalogue RMSE | votes saved to reach "
        "the fixed rule's RMSE (95% interval) | model-retired off by > 0.2 |",
        "|---|---|---|---|---|",
        f"| fixed {settings['limit']} votes | 100% | {headline['fixed_final_rmse']:.4f} | — | "
        f"{headline['fixed_rule_share_off_by_0_2_same_subjects']:.1%} (same subjects) |",
    ]
    for rule, entry in result["by_rule"].items():
        name = f"model-aware {rule_name(rule, settings)}" + (
            " (the default)" if rule == headline["rule"] else ""
        )
        rows.append(
            f"| {name} | {percent(entry['votes_spent_share'])} | "
            f"{entry['model_aware_final_rmse']:.4f} | {percent(entry['votes_saved'])} "
            f"({interval(entry['votes_saved_interval'])}) | {entry['share_off_by_0_2']:.1%} |"
        )
    met = meets_target(headline)
    meeting = [rule for rule, entry in result["by_rule"].items() if meets_target(entry)]
    lines = [
        RETIREMENT_START,
        "## Does model-aware retirement save votes? (`make bench-retirement`)",
        "",
        f"Per seed ({headline['seeds']} seeds, independent streams): {settings['initial']:,} "
        f"synthetic galaxies at {settings['image_size']} px with {settings['limit']} votes each "
        "train one CNN with production's `mlworker.pipeline` (seeds whose model was worse than "
        f"the image-free baseline on its held-out split: {headline['seeds_model_worse_than_baseline']}); "
        f"a pool of {settings['pool']:,} is scored (T = {settings['samples']}) and every pool "
        f"galaxy gets the same {settings['limit']} simulated volunteers under both rules, subject "
        "by subject; the model-aware rule runs production's `labelling.retirement.rule.decide` after "
        f"every vote (limit {settings['limit']}, minimum {settings['minimum_votes']}). The "
        "catalogue estimate is the same function of samples and votes for both rules. Savings: "
        "votes the model-aware rule needs to reach the fixed rule's final RMSE (-100% = never), "
        "paired bootstrap intervals over seeds. Figures from the run of "
        f"{when} ({duration(result)}, `benchmarks/results/retirement.json`):",
        "",
        *rows,
        "",
        "**The issue's target (≥ 40% of votes saved with the interval above 0, ≤ 2% off by more "
        "than 0.2) is " + ("met" if met else "not met") + " by the default rule**; of the rules "
        "tried, it is met by " + (", ".join(f"`{rule}`" for rule in meeting) or "none") + ". "
        "An expected change below one vote settles any question with 5 or fewer votes to come "
        "once the model's masks agree (E|K − E[K]| of a Binomial(5, p) is at most 0.94): under "
        "the issue's literal rule (width 0.2, change below one vote) the limit is in effect 10 "
        "votes wherever they agree. The other rules make each clause stricter in turn.",
        RETIREMENT_END,
    ]
    return "\n".join(lines)


def round_zero_line(active: dict, when: str) -> str:
    """Round 0 of the active-learning run: the same data, seeds and production fit as
    first_round.py, so the newer of the two runs says how first models fare today."""
    first = [curve[0] for curve in active["curves"]["random"]]
    model = np.array([point["nll"] for point in first])
    base = np.array([point["baseline_nll"] for point in first])
    return (
        f"Round 0 of the active-learning run of {when} (the same data, seeds and production fit): "
        f"the CNN averages **{model.mean():.3f}** against the baseline's {base.mean():.3f}; seeds "
        f"where the CNN is worse: **{int(np.sum(model > base))} of {len(first)}** (largest "
        f"CNN-minus-baseline difference {np.max(model - base):+.3f})."
    )


def first_round_section(result: dict, when: str, round_zero: str | None = None) -> str:
    headline, settings = result["headline"], result["settings"]
    coverage = headline["coverage_mean"]
    lines = [
        FIRST_START,
        "### The first model against the image-free baseline (`make bench-first-round`)",
        "",
        f"Round 0 of the benchmark above ({settings['initial']} random labels, "
        f"{settings['image_size']} px, a test set of {settings['test']:,}, production's "
        "`fit_and_evaluate` from random weights) over "
        f"{headline['seeds']} seeds, run of {when} ({duration(result)}, "
        "`benchmarks/results/first_round.json`): the CNN's test vote NLL averages "
        f"**{headline['nll_mean']:.3f}** against the baseline's {headline['baseline_nll_mean']:.3f}; "
        f"seeds where the CNN is worse: **{headline['seeds_worse_than_baseline']} of "
        f"{headline['seeds']}** (largest CNN-minus-baseline difference "
        f"{headline['largest_margin_over_baseline']:+.3f}); its 50/80/95% vote intervals cover "
        f"{coverage['50']:.0%} / {coverage['80']:.0%} / {coverage['95']:.0%}.",
        "",
        *([round_zero, ""] if round_zero else []),
        "![first round](benchmarks/results/first_round.png)",
        FIRST_END,
    ]
    return "\n".join(lines)


def speed_section(results: dict[str, dict]) -> str:
    """The speed table's rows from mc_scoring.json, round_time.json and pool_scale.json."""
    mc, rounds, pool = results["mc_scoring"], results["round_time"], results["pool_scale"]
    ratios, rates = mc["headline"], mc["images_per_second"]

    def ratio(name: str) -> str:
        r = ratios[name]
        return f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f}x)"

    stages, per_100k = rounds["stages_seconds"], pool["headline"]["seconds_per_100k"]
    mc_settings = mc["settings"]
    lines = [
        SPEED_START,
        "| benchmark | command | headline |",
        "|---|---|---|",
        f"| MC dropout scoring, {mc_settings['size']}x{mc_settings['size']} grey, paper CNN "
        f"| `{mc['command']}` | {mc_settings['images']} images, every path a compiled call, "
        f"warm-up, {mc_settings['repeats']} rounds with the order rotated (median and min-max of "
        "the per-round ratios): T = 30 with the trunk run once (`mlworker.scoring.mc_samples`) "
        f"**{ratio('mc30_vs_single_pass')}** the throughput of one full forward pass and "
        f"**{ratio('mc30_vs_naive')}** the naive loop of 30 full passes "
        f"({rates['mc30_trunk_once']['median']:.0f} vs {rates['one_full_pass']['median']:.0f} vs "
        f"{rates['mc30_naive']['median']:.1f} img/s median); T = 15: "
        f"{ratio('mc15_vs_single_pass')} and {ratio('mc15_vs_naive')} |",
        f"| one full round, {rounds['settings']['subjects']:,} subjects at "
        f"{rounds['settings']['size']}x{rounds['settings']['size']} | `{rounds['command']}` | "
        f"**{rounds['headline']['round_seconds']:.0f} s** from `retrain --wait` to the recorded "
        f"round on the embedded default: training {stages['train']:.0f} s "
        f"({rounds['training_set_size']} labelled subjects, {rounds['epochs']} epochs), scoring "
        f"the pool {stages['score']:.1f} s, selection {stages['select']:.1f} s; the rest is "
        "TensorFlow's import and queueing |",
        f"| pool of {pool['pool']:,} ({pool['settings']['size']} px) | `make bench-pool-scale` | "
        f"seconds per 100,000: score **{per_100k['score']:.1f}**, rank "
        f"**{per_100k['rank']:.1f}**, write back priorities to PostgreSQL "
        f"**{per_100k['write_back']:.1f}** ({pool['note']}) |",
        "| serving, gunicorn + PostgreSQL + Redis | `make bench-serving` | next-subject and submit "
        "against a bare Django view and `pgbench`, 8/32/64 clients, 10,000 and 1,000,000 "
        'subjects: see "Serving" below the table |',
        SPEED_END,
    ]
    return "\n".join(lines)


def transfer_section(result: dict, when: str) -> str:
    settings, headline, summary = result["settings"], result["headline"], result["summary"]
    labels = summary["labels"]
    rows = [
        "| labelled survey-B galaxies | " + " | ".join(f"{n:,}" for n in labels) + " |",
        "|---" * (len(labels) + 1) + "|",
        *(
            f"| {name} | " + " | ".join(f"{value:.3f}" for value in summary[key]) + " |"
            for name, key in (
                ("from random weights", "scratch_nll"),
                ("fine-tuned from survey A", "transfer_nll"),
                ("image-free baseline", "baseline_nll"),
            )
        ),
    ]
    needed = summary["transfer_labels_needed"]
    if not np.isfinite(needed):
        reach = "the fine-tuned start never gets there"
    elif summary["censored"]:
        reach = "the fine-tuned start is there at the smallest count (the saving is a lower bound)"
    else:
        reach = f"the fine-tuned start gets there with {needed:.0f}"
    lines = [
        TRANSFER_START,
        "## Does starting from a model that already knows save labels? (`make bench-transfer`)",
        "",
        f"Per seed ({headline['seeds']} seeds, independent streams): {settings['pretrain']:,} "
        f"labelled galaxies of survey A ({settings['image_size']} px, {settings['volunteers']} "
        "votes each) train one model with production's `mlworker.pipeline`, saved as a version "
        "folder. Survey B is another telescope (`synthetic.SHIFTED_SURVEY`: noisier, blurrier). "
        "On the same nested labelled sets of survey B, production's `fit_and_evaluate` trains "
        "once from random weights and once from survey A's version: its trunk frozen for "
        f"{settings['frozen_epochs']} epochs under fresh heads, then every layer at "
        f"{settings['fine_tune_rate']:g}x the learning rate. Test: expected vote NLL on "
        f"{settings['test']:,} survey-B galaxies (nats, lower is better), mean over seeds. "
        f"Figures from the run of {when} ({duration(result)}, `benchmarks/results/transfer.json`):",
        "",
        *rows,
        "",
        f"From random weights, {labels[-1]:,} labels reach {summary['target_nll']:.3f} nats; "
        f"{reach}. **Labels saved: {percent(headline['label_saving'])} "
        f"(95% BCa interval over seeds {interval(headline['label_saving_interval'])}); the "
        "issue's target (≥ 50% with the interval above 0) is "
        + ("met" if headline["target_met"] else "not met")
        + ".** Per seed: "
        + ", ".join(percent(value) for value in summary["per_seed_saving"])
        + ".",
        "",
        "![transfer](benchmarks/results/transfer.png)",
        TRANSFER_END,
    ]
    return "\n".join(lines)


def fill(readme: Path, start: str, end: str, text: str) -> None:
    content = readme.read_text()
    if start not in content or end not in content:
        sys.exit(f"{readme} has no {start} ... {end} markers to fill")
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    readme.write_text(before + text + after)


def run_date(path: Path) -> str:
    """The day the result was made: its file's time while it is new or changed, else the day it
    was committed (a fresh clone's files all carry the clone's time)."""

    def git(*arguments) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    committed = git("log", "-1", "--format=%cs", "--", str(path))
    if committed and not git("status", "--porcelain", "--", str(path)):
        return committed
    return datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()


def main(
    result_path: Path = RESULT,
    readme: Path = ROOT / "README.md",
    retirement_path: Path | None = RETIREMENT,
    first_round_path: Path | None = FIRST_ROUND,
    speed_paths: dict[str, Path] | None = SPEED,
    transfer_path: Path | None = TRANSFER,
) -> None:
    result = json.loads(result_path.read_text())
    fill(readme, START, END, section(result, run_date(result_path)))
    print(f"README: active-learning section written from {result_path}")
    one_file_sections = [
        (retirement_path, RETIREMENT_START, RETIREMENT_END, retirement_section),
        (
            first_round_path,
            FIRST_START,
            FIRST_END,
            lambda first, when: first_round_section(
                first, when, round_zero_line(result, run_date(result_path))
            ),
        ),
        (transfer_path, TRANSFER_START, TRANSFER_END, transfer_section),
    ]
    for path, start, end, write in one_file_sections:
        if path is not None and path.exists():
            fill(readme, start, end, write(json.loads(path.read_text()), run_date(path)))
            print(f"README: section {start} written from {path}")
    if speed_paths is not None and all(path.exists() for path in speed_paths.values()):
        speed = {name: json.loads(path.read_text()) for name, path in speed_paths.items()}
        fill(readme, SPEED_START, SPEED_END, speed_section(speed))
        print("README: speed table written from " + ", ".join(str(p) for p in speed_paths.values()))


if __name__ == "__main__":
    main()
