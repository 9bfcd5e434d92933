"""The survey benchmark's figures: per arm the votes it spends to reach classic's final catalogue
(within MARGIN), as a share of classic's votes saved with a paired BCa interval over seeds; its
RMSE at a quarter of classic's votes; each lever's share; the plot and the README's section, all
from the result file."""

import numpy as np

from benchmarks import plots, runs, savings, survey_screen
from benchmarks.survey_arms import CLASSIC_THEN_MODEL, LEVERS

README_MARKER = "survey"
# "Equal quality" needs a margin (issue 39): reached when the RMSE is at most 1.02 x classic's final.
MARGIN = 1.02
NAMES = {
    "classic": "classic (random order, 15 votes each, no model)",
    CLASSIC_THEN_MODEL: "classic, then a model at checkpoints",
    "default": "Starling's defaults",
    "no_picks": "defaults, picks off (strategy random)",
    "no_model_retirement": "defaults, model-aware retirement off",
    "no_weighting": "defaults, weighting off",
    "model_retirement": "defaults + model-aware retirement on",
    **{arm: f"candidate: {arm.replace('_', ' ')}" for arm in survey_screen.SCREEN},
}
DATASETS = {"galaxies": "synthetic galaxies", "cells": "fluorescence cells"}


def needed(seeds: list[dict], arm: str) -> np.ndarray:
    """[seeds] votes the arm spends until its catalogue RMSE is at most MARGIN x classic's final
    RMSE of the same seed (inf: never)."""
    return np.array(
        [
            savings.first_crossing(
                s["arms"][arm]["votes"],
                s["arms"][arm]["rmse"],
                MARGIN * s["arms"]["classic"]["final_rmse"],
            )
            for s in seeds
        ]
    )


def mean_saving(first: np.ndarray, second: np.ndarray) -> float:
    """The mean over seeds of 1 - first / second (first[:, 0] votes needed, second[:, 0] the votes
    they are set against), each floored at -1 (never reached)."""
    return float(np.mean(savings.share_saved(first[:, 0], second[:, 0])))


def lever_statistic(first: np.ndarray, second: np.ndarray) -> float:
    """Saving with the lever on minus with it off, mean over seeds: columns (votes needed, budget)."""
    on = savings.share_saved(first[:, 0], first[:, 1])
    off = savings.share_saved(second[:, 0], second[:, 1])
    return float(np.mean(on - off))


def at_votes(seed: dict, arm: str, votes: float) -> float:
    """The arm's catalogue RMSE once `votes` are spent (linear between checkpoints; an arm that
    retired every subject before keeps its last catalogue)."""
    entry = seed["arms"][arm]
    return float(np.interp(votes, entry["votes"], entry["rmse"]))


def summarise(seeds: list[dict], arms: list[str]) -> dict:
    """Per arm: saving against classic's budget and its interval, RMSE at a quarter of the budget
    and at the end, votes spent; default against classic_then_model; each lever's share."""
    budget = np.array([float(s["budget"]) for s in seeds])
    by_arm = {}
    for arm in arms:
        votes = needed(seeds, arm)
        interval, method = savings.paired_interval(mean_saving, votes[:, None], budget[:, None])
        entry = seeds[0]["arms"][arm]
        by_arm[arm] = {
            "votes_saved": round(mean_saving(votes[:, None], budget[:, None]), 4),
            "votes_saved_interval": interval,
            "interval_method": method,
            "votes_needed_share": [round(float(v), 4) for v in votes / budget],
            "rmse_at_quarter_budget": round(
                float(
                    np.mean([at_votes(s, arm, b / 4) for s, b in zip(seeds, budget, strict=True)])
                ),
                5,
            ),  # fmt: skip
            "final_rmse": round(float(np.mean([s["arms"][arm]["rmse"][-1] for s in seeds])), 5),
            "votes_spent_share": round(
                float(np.mean([s["arms"][arm]["votes"][-1] for s in seeds] / budget)), 4
            ),  # fmt: skip
            **({"same_as": entry["same_as"]} if "same_as" in entry else {}),
        }
    summary = {"arms": by_arm, "margin": MARGIN, "seeds": len(seeds)}
    if {"default", CLASSIC_THEN_MODEL} <= set(arms):
        default, model = needed(seeds, "default"), needed(seeds, CLASSIC_THEN_MODEL)
        interval, method = savings.paired_interval(mean_saving, default[:, None], model[:, None])
        fits = [int(votes) for votes in seeds[0]["arms"][CLASSIC_THEN_MODEL]["votes"][1:-1]]
        summary["default_vs_classic_then_model"] = {
            "saving": round(mean_saving(default[:, None], model[:, None]), 4),
            "interval": interval,
            "interval_method": method,
            # At each of classic_then_model's fits: both arms' RMSE, mean over seeds.
            "at_fits": {
                str(votes): {
                    arm: round(float(np.mean([at_votes(s, arm, votes) for s in seeds])), 5)
                    for arm in ("default", CLASSIC_THEN_MODEL)
                }
                for votes in fits
            },
        }
    summary["screen"] = survey_screen.summarise(seeds, arms, needed, at_votes)
    summary["levers"] = {}
    for lever, (on, off) in LEVERS.items():
        if {on, off} <= set(arms):
            first = np.stack([needed(seeds, on), budget], axis=1)
            second = np.stack([needed(seeds, off), budget], axis=1)
            interval, _ = savings.paired_interval(lever_statistic, first, second)
            summary["levers"][lever] = {
                "on": on,
                "off": off,
                "share": round(lever_statistic(first, second), 4),
                "interval": interval,
            }
    return summary


def headline(datasets: dict) -> dict:
    """The issue's headline over every dataset run so far: {dataset: ...} under each key."""
    head = {
        "votes_saved": {},
        "votes_saved_vs_classic_then_model": {},
        "rmse_at_quarter_budget": {},
        "lever_share": {},
        # Point 4's candidates beside the defaults in the same run (survey_screen.py).
        "screen": {},
        "seeds": {},
        "margin": MARGIN,
    }
    for name, entry in datasets.items():
        summary = entry["summary"]
        arms = summary["arms"]
        head["seeds"][name] = summary["seeds"]
        if "default" in arms:
            head["votes_saved"][name] = {
                "saving": arms["default"]["votes_saved"],
                "interval": arms["default"]["votes_saved_interval"],
            }
        if "default_vs_classic_then_model" in summary:
            against = summary["default_vs_classic_then_model"]
            head["votes_saved_vs_classic_then_model"][name] = {
                "saving": against["saving"],
                "interval": against["interval"],
            }
        head["rmse_at_quarter_budget"][name] = {
            arm: values["rmse_at_quarter_budget"] for arm, values in arms.items()
        }
        head["lever_share"][name] = {
            lever: values["share"] for lever, values in summary["levers"].items()
        }
        screen = entry.get("screen") or summary.get("screen")
        if screen:
            head["screen"][name] = {
                arm: {key: values[key] for key in SCREEN_KEYS} for arm, values in screen.items()
            }
    return head


SCREEN_KEYS = ("votes_saved", "minus_default", "rmse_at_quarter_budget", "quarter_share_of_classic")


def plot(datasets: dict, path) -> None:
    """Every arm's mean catalogue RMSE against votes spent (shares of classic's), a panel per
    dataset, with classic's final RMSE x MARGIN (the target) and a quarter of the budget marked."""
    shares = np.linspace(0.0, 1.0, 101)
    with plots.drawn(path, 1, len(datasets), size=(6 * len(datasets), 4.5), squeeze=False) as (
        figure,
        axes,
    ):
        for axis, (name, entry) in zip(axes[0], datasets.items(), strict=True):
            seeds = entry["seeds"]
            for arm in entry["summary"]["arms"]:
                curves = [[at_votes(s, arm, x * s["budget"]) for x in shares] for s in seeds]
                style = "--" if "same_as" in seeds[0]["arms"][arm] else "-"
                axis.plot(shares, np.mean(curves, axis=0), style, label=NAMES.get(arm, arm))
            target = MARGIN * np.mean([s["arms"]["classic"]["final_rmse"] for s in seeds])
            axis.axhline(target, color="black", linestyle=":", label=f"{MARGIN} x classic's final")
            axis.axvline(0.25, color="grey", linestyle=":", linewidth=0.8)
            axis.set_title(f"{DATASETS.get(name, name)}: {len(seeds)} seeds")
            axis.set_xlabel("votes spent, share of classic's (15 a subject)")
            axis.set_ylabel("catalogue RMSE against the true p")
            axis.legend(fontsize=7)
        figure.suptitle("A survey start to finish: catalogue quality against votes (mean of seeds)")


def readme_section(result: dict, when: str) -> str:
    """The README's section (between its markers): every figure from the result file."""
    head, datasets = result["headline"], result["datasets"]
    sentences = []
    for name, saved in head["votes_saved"].items():
        sentences.append(
            f"**{fewer(saved['saving'])}** on the {DATASETS.get(name, name)} (95% interval "
            f"{runs.interval(saved['interval'])})"
        )
    presets = {entry["settings"]["preset"] for entry in datasets.values()}
    lines = [
        "## For a survey team: votes for a catalogue of every image (`make bench-survey`)",
        "",
        "For the same catalogue as Galaxy Zoo's classic way (random order, every image "
        "retired at 15 votes, no model), a project with Starling's defaults needs "
        + ("; ".join(sentences) or "—")
        + "."
        + (
            ""
            if presets == {"standard"}
            else f" These are the figures of a reduced run (the `{'`, `'.join(sorted(presets))}` "
            "preset: fewer images, seeds, rounds and epochs than `make bench-survey`'s), the "
            "screen of the candidates below; the full run replaces them."
        )
        + ' "The same catalogue": its RMSE against the true answer probabilities '
        f"over every image comes within {MARGIN - 1:.0%} of classic's final RMSE; negative: more "
        "votes than classic (−100%: never within reach of classic's budget). The catalogue is "
        "the owner's export, its best estimate of every answer (the model's posterior and the "
        "weighted votes together; the image-free baseline and the votes where there is no model). "
        "A project's defaults retire at a fixed count: model-aware retirement is a lever a team "
        "turns on, measured here as one more arm.",
        "",
    ]
    for name, entry in datasets.items():
        lines += dataset_table(name, entry)
        lines += survey_screen.table(entry)
    lines += [
        "![catalogue RMSE against votes spent](benchmarks/results/survey.png)",
        "",
        "Each arm is a project in a throwaway database run with production's own functions: "
        "simulated volunteers ask for their next image (the queue's choice, with its cold start) "
        "and classify it (the vote write), beat's tasks run every "
        f"{settings_of(datasets)['votes_per_tick']} votes (the retrain schedule, model-aware "
        "retirement), a retrain runs as a worker runs it (weighting, training, scoring, the "
        "round), and the catalogue is the owner's export. The crowd: "
        f"{settings_of(datasets)['careless']:.0%} careless and "
        f"{settings_of(datasets)['hostile']:.0%} hostile sessions, a few casting most votes. "
        f"Figures from the run of {when} ({runs.duration(result)}, "
        "`benchmarks/results/survey.json`).",
    ]
    return "\n".join(lines)


def fewer(saving: float) -> str:
    """A saving as a survey team reads it."""
    if saving >= 0:
        return f"{runs.percent(saving)} fewer votes"
    return "never within reach" if saving <= -1 else f"{runs.percent(-saving)} more votes"


def settings_of(datasets: dict) -> dict:
    return next(iter(datasets.values()))["settings"]


def dataset_table(name: str, entry: dict) -> list[str]:
    summary, settings = entry["summary"], entry["settings"]
    rows = [
        f"### {DATASETS.get(name, name).capitalize()}: {settings['pool']:,} images at "
        f"{settings['image_size']} px, {summary['seeds']} seed{'s' if summary['seeds'] > 1 else ''}"
        ", a round every "
        f"{settings['retrain_after_new_votes']:,} new votes",
        "",
        "| arm | votes for classic's catalogue (saved, 95% interval) | RMSE at a quarter of "
        "classic's votes | final RMSE | votes spent |",
        "|---|---|---|---|---|",
    ]
    for arm, values in summary["arms"].items():
        same = f" (= {values['same_as']})" if "same_as" in values else ""
        rows.append(
            f"| {NAMES.get(arm, arm)}{same} | {runs.percent(values['votes_saved'])} "
            f"({runs.interval(values['votes_saved_interval'])}) | "
            f"{values['rmse_at_quarter_budget']:.4f} | {values['final_rmse']:.4f} | "
            f"{runs.percent(values['votes_spent_share'])} |"
        )
    arms = summary["arms"]
    rows += [
        "",
        "At a quarter of classic's votes, the catalogue RMSE of Starling's defaults is "
        f"{arms['default']['rmse_at_quarter_budget'] / arms['classic']['rmse_at_quarter_budget']:.0%}"
        " of classic's.",
    ]
    against = summary.get("default_vs_classic_then_model")
    if against:
        checkpoints = ", ".join(
            f"{int(votes) / (15 * settings['pool']):.0%} of the votes: "
            f"{pair['default']:.4f} against {pair[CLASSIC_THEN_MODEL]:.4f}"
            for votes, pair in against["at_fits"].items()
        )
        rows += [
            "Against classic, then a model, to the same catalogue: Starling's defaults spent "
            f"{runs.percent(against['saving'])} fewer votes ({runs.interval(against['interval'])}"
            f"); at its fits, the RMSE of Starling's defaults against its own: {checkpoints}.",
        ]
    levers = summary["levers"]
    if levers:
        rows += [
            "Each lever's share (saving with it on minus with it off): "
            + "; ".join(
                f"{lever.replace('_', ' ')} {values['share']:+.0%} "
                f"({runs.interval(values['interval'])})"
                for lever, values in levers.items()
            )
            + "."
        ]
    return [*rows, ""]
