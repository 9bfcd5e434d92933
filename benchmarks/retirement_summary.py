"""The retirement benchmark's figures: each rule's saving over seeds with its paired interval, the
share of model-retired subjects off the truth, and the README's section from the result file."""

import numpy as np

from benchmarks import runs, savings

README_MARKER = "retirement"


def votes_needed(entry: dict) -> float:
    return np.inf if entry["votes_needed"] is None else entry["votes_needed"]


def summarise(seeds: list[dict], rule: str) -> dict:
    needed = np.array([[votes_needed(s["by_rule"][rule])] for s in seeds], dtype=float)
    fixed = np.array([[float(s["fixed_votes"])] for s in seeds])

    def saving(needed, fixed):  # [seeds, 1] each: the mean over seeds of the share saved
        return float(np.mean(savings.share_saved(needed[:, 0], fixed[:, 0])))

    interval, method = savings.paired_interval(saving, needed, fixed)
    off = sum(s["by_rule"][rule]["off_by_0_2"] for s in seeds)
    fixed_off = sum(s["by_rule"][rule]["fixed_off_by_0_2_same_subjects"] for s in seeds)
    retired = sum(s["by_rule"][rule]["retired_by_model"] for s in seeds)
    return {
        "votes_saved": round(saving(needed, fixed), 4),
        "votes_saved_interval": interval,
        "interval_method": method,
        "share_off_by_0_2": round(off / retired, 4) if retired else 0.0,
        "fixed_rule_share_off_by_0_2_same_subjects": round(fixed_off / retired, 4)
        if retired
        else 0.0,
        "seeds_reaching_target": int(np.isfinite(needed).sum()),
        "retired_by_model": retired,
        "votes_spent_share": round(
            float(np.mean([s["by_rule"][rule]["votes_total"] for s in seeds] / fixed[:, 0])),
            4,
        ),  # all the model-aware rule spent, against the fixed rule's votes
        "fixed_final_rmse": round(float(np.mean([s["fixed_final_rmse"] for s in seeds])), 5),
        "model_aware_final_rmse": round(
            float(np.mean([s["by_rule"][rule]["final_rmse"] for s in seeds])), 5
        ),
    }


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


def readme_section(result: dict, when: str) -> str:
    """The README's retirement section (between its markers), every figure from the result."""
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
            f"| {name} | {runs.percent(entry['votes_spent_share'])} | "
            f"{entry['model_aware_final_rmse']:.4f} | {runs.percent(entry['votes_saved'])} "
            f"({runs.interval(entry['votes_saved_interval'])}) | {entry['share_off_by_0_2']:.1%} |"
        )
    met = meets_target(headline)
    meeting = [rule for rule, entry in result["by_rule"].items() if meets_target(entry)]
    lines = [
        "## Does model-aware retirement save votes? (`make bench-retirement`)",
        "",
        f"Per seed ({headline['seeds']} seeds, independent streams): {settings['initial']:,} "
        f"synthetic galaxies at {settings['image_size']} px with {settings['limit']} votes each "
        "train one version with production's `mlworker.pipeline` and default (two networks, "
        "scored under the 8 symmetries as a galaxy project is; seeds whose model was worse than "
        f"the image-free baseline on its held-out split: {headline['seeds_model_worse_than_baseline']}); "
        f"a pool of {settings['pool']:,} is scored (T = {settings['samples']}) and every pool "
        f"galaxy gets the same {settings['limit']} simulated volunteers under both rules, subject "
        "by subject; the model-aware rule runs production's `labelling.retirement.rule.decide` after "
        f"every vote (limit {settings['limit']}, minimum {settings['minimum_votes']}). The "
        "catalogue estimate is the same function of samples and votes for both rules. Savings: "
        "votes the model-aware rule needs to reach the fixed rule's final RMSE (-100% = never), "
        "paired bootstrap intervals over seeds. Figures from the run of "
        f"{when} ({runs.duration(result)}, `benchmarks/results/retirement.json`):",
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
        "",
        f"The default rule reaches the fixed rule's final RMSE in {headline['seeds_reaching_target']} "
        f"of {headline['seeds']} seeds (a seed that never does counts as −100%); over the seeds its "
        f"final catalogue RMSE averages {headline['model_aware_final_rmse']:.4f} against the fixed "
        f"rule's {headline['fixed_final_rmse']:.4f}, with {headline['votes_spent_share']:.0%} of "
        "the votes.",
    ]
    return "\n".join(lines)
