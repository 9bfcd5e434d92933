"""The volunteers benchmark's figures: means over seeds, paired differences against the clean
crowd, the flags pooled over seeds, and the README's section from the result file."""

import numpy as np

from benchmarks import runs, savings
from benchmarks.volunteers_crowd import CROWD_KIT_FLAGS, HOSTILE_SESSIONS, MANY_VOTES

README_MARKER = "volunteers"
CONDITIONS = ("clean_unweighted", "clean_weighted", "bad_unweighted", "bad_weighted")


def summarise(seeds: list[dict]) -> dict:
    """Means over seeds per condition, the paired differences that the issue's targets read (BCa
    intervals over seeds), and the flags pooled over seeds."""
    table = {
        condition: {
            measure: [seed["conditions"][condition][measure] for seed in seeds]
            for measure in ("nll", "rmse", "baseline_nll", "classifications")
        }
        for condition in CONDITIONS
    }
    means = {
        condition: {measure: round(float(np.mean(v)), 4) for measure, v in values.items()}
        for condition, values in table.items()
    }

    def difference(condition: str, measure: str) -> dict:
        first = np.array(table[condition][measure])[:, None]
        second = np.array(table["clean_unweighted"][measure])[:, None]
        interval, _ = savings.paired_interval(lambda a, b: float(np.mean(a - b)), first, second)
        return {"mean": round(float(np.mean(first - second)), 4), "interval": interval}

    differences = {
        condition: {measure: difference(condition, measure) for measure in ("nll", "rmse")}
        for condition in CONDITIONS[1:]
    }

    def pooled(name: str, crowd: str = "bad"):
        values = [
            seed["flags"][crowd][name] for seed in seeds if seed["flags"][crowd][name] is not None
        ]
        return round(float(np.mean(values)), 4) if values else None

    with_crowd_kit = [seed["crowd_kit"] for seed in seeds if seed.get("crowd_kit")]
    crowd_kit = {
        method: {
            measure: round(float(np.mean([s[method][measure] for s in with_crowd_kit
                                          if s[method][measure] is not None])), 4)
            for measure in ("recall_many", "recall", "honest_flagged")
        }
        for method in (with_crowd_kit[0] if with_crowd_kit else {})
    }  # fmt: skip
    return {
        "means": means,
        "against_clean": differences,
        "crowd_kit": crowd_kit or None,
        "flags": {
            "bad_found_recall": pooled("recall_many"),
            "bad_found_recall_all": pooled("recall"),
            "honest_flagged_share": pooled("honest_flagged"),
            "honest_flagged_share_clean_crowd": pooled("honest_flagged", "clean"),
            "precision": pooled("precision"),
            "by_kind": {
                kind: pooled_kind(seeds, kind) for kind in ("one-button", "random", "hostile")
            },
        },
    }


def pooled_kind(seeds, kind: str):
    values = [s["flags"]["bad"]["by_kind"].get(kind) for s in seeds]
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def headline(summary: dict) -> dict:
    means, flagged = summary["means"], summary["flags"]
    return {
        "nll_clean": means["clean_unweighted"]["nll"],
        "nll_clean_weighted": means["clean_weighted"]["nll"],
        "nll_bad_unweighted": means["bad_unweighted"]["nll"],
        "nll_bad_weighted": means["bad_weighted"]["nll"],
        "rmse_clean": means["clean_unweighted"]["rmse"],
        "rmse_clean_weighted": means["clean_weighted"]["rmse"],
        "rmse_bad_unweighted": means["bad_unweighted"]["rmse"],
        "rmse_bad_weighted": means["bad_weighted"]["rmse"],
        "bad_found_recall": flagged["bad_found_recall"],
        "honest_flagged_share": flagged["honest_flagged_share"],
        "against_clean": summary["against_clean"],
    }


def readme_section(result: dict, when: str) -> str:
    """The README's section (between its markers), every figure from the result file."""
    head, settings = result["headline"], result["settings"]
    flagged = result["summary"]["flags"]
    rows = [
        ("clean crowd", "clean_unweighted", "nll_clean", "rmse_clean"),
        ("clean crowd, weighted", "clean_weighted", "nll_clean_weighted", "rmse_clean_weighted"),
        ("bad crowd, unweighted", "bad_unweighted", "nll_bad_unweighted", "rmse_bad_unweighted"),
        ("bad crowd, weighted", "bad_weighted", "nll_bad_weighted", "rmse_bad_weighted"),
    ]
    lines = [
        "### Careless and hostile volunteers (`make bench-volunteers`)",
        "",
        f"{settings['seeds']} seeds, run of {when} ({runs.duration(result)}, "
        "`benchmarks/results/volunteers.json`): synthetic galaxies, a pool of "
        f"{settings['pool']:,} subjects with {settings['votes']} classifications each from a crowd of "
        f"{settings['crowd']} sessions (Pareto activity), {settings['careless']:.0%} careless "
        f"(one button; random) and {settings['hostile']:.0%} hostile (the opposite answer, "
        f"{HOSTILE_SESSIONS} sessions per person from one address). Production's fit on each "
        "crowd's counts, unweighted and weighted by `mlworker.reliability`; the difference from "
        "the clean crowd with its 95% interval over seeds:",
        "",
        "| crowd | classifications | test vote NLL | minus clean | catalogue RMSE | minus clean |",
        "|---|---|---|---|---|---|",
    ]
    for label, condition, nll_key, rmse_key in rows:
        against = head["against_clean"].get(condition)
        nll_difference = _difference(against["nll"]) if against else "—"
        rmse_difference = _difference(against["rmse"], 4) if against else "—"
        spent = result["summary"]["means"][condition]["classifications"]
        lines.append(
            f"| {label} | {spent:,.0f} | {head[nll_key]:.3f} | {nll_difference} | {head[rmse_key]:.4f} | "
            f"{rmse_difference} |"
        )
    by_kind = ", ".join(
        f"{kind} {runs.percent(share)}" for kind, share in flagged["by_kind"].items()
    )
    lines += [
        "",
        f"Bad sessions with at least {MANY_VOTES} classifications flagged: "
        f"**{runs.percent(head['bad_found_recall'])}** (all bad sessions: "
        f"{runs.percent(flagged['bad_found_recall_all'])}; by kind: {by_kind}); honest sessions "
        f"flagged: **{runs.percent(head['honest_flagged_share'])}** in the bad crowd, "
        f"{runs.percent(flagged['honest_flagged_share_clean_crowd'])} in the clean one; "
        f"precision of the flags {runs.percent(flagged['precision'])}.",
        *crowd_kit_lines(result["summary"].get("crowd_kit")),
        "",
        "![volunteers](benchmarks/results/volunteers.png)",
    ]
    return "\n".join(lines)


def crowd_kit_lines(crowd_kit: dict | None) -> list[str]:
    """The comparison with crowd-kit's aggregators, when the run made one (`--crowd-kit`)."""
    if not crowd_kit:
        return []
    lines = [
        "",
        "Beside crowd-kit's aggregators (`--crowd-kit`; they take one discrete label per item, so "
        "the bad crowd's first pass on the first question; a session flagged when its skill is "
        "below: "
        + ", ".join(f"{name} {what} {limit}" for name, (what, limit) in CROWD_KIT_FLAGS.items())
        + "):",
        "",
        "| method | bad sessions with ≥ 50 classifications flagged | all bad flagged | honest flagged |",
        "|---|---|---|---|",
    ]
    for method, values in crowd_kit.items():
        lines.append(
            f"| {method} | {runs.percent(values['recall_many'])} | "
            f"{runs.percent(values['recall'])} | {runs.percent(values['honest_flagged'])} |"
        )
    return lines


def _difference(entry: dict, digits: int = 3) -> str:
    low, high = entry["interval"]
    bounds = f" ({low:+.{digits}f} to {high:+.{digits}f})" if low == low else ""
    return f"{entry['mean']:+.{digits}f}{bounds}"
