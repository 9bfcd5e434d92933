"""Issue 39's point 4, "close the gap": the candidates' figures beside Starling's defaults in the
same run (same seeds, images, truths and volunteers), for the result file's `screen` and the
README's table. Each candidate is a product switch (survey_arms.SCREEN, and model-aware retirement
on: the `model_retirement` arm); a dataset's screen is kept when a later run of it has no
candidate arms (survey.main)."""

import numpy as np

from benchmarks import runs, savings
from benchmarks.survey_arms import CLASSIC_THEN_MODEL, SCREEN

# The candidates and what each changes from a project's defaults, as the README says it.
CANDIDATES = {
    "model_retirement": "model-aware retirement on (its thresholds: Project's defaults)",
    "random_checks": "Galaxy Zoo Enhanced's split: half the requests random checks over the pool, "
    "the rest the ranked queue (its picks to the full count)",
    "first_at_minimum": "the first model as soon as 200 images have votes (not the cadence)",
    "first_at_minimum_100": "the first model as soon as 100 images have votes",
    "cadence_x2": "a round every half as many votes (twice the rounds)",
    "combined": "model-aware retirement + random checks + the first model at 100 images",
}
assert set(CANDIDATES) == {"model_retirement", *SCREEN}


def summarise(seeds: list[dict], arms: list[str], needed, at_votes) -> dict:
    """{arm: figures} for default and each candidate run: the saving against classic per seed and
    its mean, the mean of its paired difference with default's, the RMSE at a quarter of classic's
    votes as a share of classic's, the votes at its first model, and the fits of classic, then a
    model, at which it is worse. `needed(seeds, arm)`, `at_votes(seed, arm, votes)`:
    survey_summary's."""
    present = [arm for arm in ("default", *CANDIDATES) if arm in arms]
    if len(present) < 2 or "default" not in present:
        return {}
    budget = np.array([float(s["budget"]) for s in seeds])
    default = savings.share_saved(needed(seeds, "default"), budget)
    quarter = {
        arm: np.array([at_votes(s, arm, b / 4) for s, b in zip(seeds, budget, strict=True)])
        for arm in ("classic", *present)
    }
    screen = {}
    for arm in present:
        saved = savings.share_saved(needed(seeds, arm), budget)
        entry = seeds[0]["arms"][arm]
        worse = []
        if CLASSIC_THEN_MODEL in arms:
            fits = [int(v) for v in seeds[0]["arms"][CLASSIC_THEN_MODEL]["votes"][1:-1]]
            worse = [
                votes
                for votes in fits
                if np.mean([at_votes(s, arm, votes) for s in seeds])
                > np.mean([at_votes(s, CLASSIC_THEN_MODEL, votes) for s in seeds])
            ]
        screen[arm] = {
            "votes_saved": round(float(np.mean(saved)), 4),
            "votes_saved_per_seed": [round(float(x), 4) for x in saved],
            "minus_default": round(float(np.mean(saved - default)), 4),
            "rmse_at_quarter_budget": round(float(np.mean(quarter[arm])), 5),
            "quarter_share_of_classic": round(
                float(np.mean(quarter[arm] / quarter["classic"])), 4
            ),  # fmt: skip
            "final_rmse": round(float(np.mean([s["arms"][arm]["rmse"][-1] for s in seeds])), 5),
            "first_model_votes_share": first_model_share(seeds, arm),
            "worse_than_classic_then_model_at": worse,
            **({"same_as": entry["same_as"]} if "same_as" in entry else {}),
        }
    return screen


def first_model_share(seeds: list[dict], arm: str) -> float | None:
    """Votes spent when the arm's first model started, a share of classic's votes (mean)."""
    first = [s["arms"][arm].get("first_version_votes") for s in seeds]
    if any(v is None for v in first):
        return None
    return round(float(np.mean([v / s["budget"] for v, s in zip(first, seeds, strict=True)])), 4)


def label(arm: str) -> str:
    return "Starling's defaults" if arm == "default" else CANDIDATES.get(arm, arm)


def table(entry: dict) -> list[str]:
    """The README's table of a dataset's screen (nothing when it has none)."""
    screen = entry.get("screen") or entry["summary"].get("screen")
    if not screen:
        return []
    settings = entry.get("screen_settings", entry["settings"])
    seeds = len(next(iter(screen.values()))["votes_saved_per_seed"])
    best = max(screen, key=lambda arm: screen[arm]["votes_saved"])
    lowest = min(screen, key=lambda arm: screen[arm]["rmse_at_quarter_budget"])
    rows = [
        f"Of the candidates, for the same catalogue the fewest votes: {label(best)} "
        f"({runs.percent(screen[best]['votes_saved'])} fewer than classic); the best catalogue at "
        f"a quarter of classic's votes: {label(lowest)} (RMSE "
        f"{runs.percent(screen[lowest]['quarter_share_of_classic'])} of classic's).",
        "",
        f"Closing the gap, the candidates screened ({settings['pool']:,} images, {seeds} seed"
        f"{'s' if seeds > 1 else ''}, "
        f"{settings['epochs']} epochs a round, a round every "
        f"{settings['retrain_after_new_votes']:,} votes; each candidate beside the defaults in the "
        "same run; one change each from a project's defaults):",
        "",
        "| candidate | votes saved for classic's catalogue (per seed) | against the defaults | "
        "RMSE at a quarter of classic's votes (share of classic's) | final RMSE | first model "
        "at | worse than classic, then a model, at |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, values in screen.items():
        name = label(arm)
        per_seed = ", ".join(runs.percent(x) for x in values["votes_saved_per_seed"])
        first = values["first_model_votes_share"]
        worse = values["worse_than_classic_then_model_at"]
        budget = 15 * settings["pool"]
        rows.append(
            f"| {name} | {runs.percent(values['votes_saved'])} ({per_seed}) | "
            + ("—" if arm == "default" else f"{values['minus_default'] * 100:+.0f} points")
            + f" | {values['rmse_at_quarter_budget']:.4f} "
            f"({runs.percent(values['quarter_share_of_classic'])}) | {values['final_rmse']:.4f} | "
            + ("—" if first is None else f"{runs.percent(first)} of the votes")
            + " | "
            + (", ".join(runs.percent(v / budget) for v in worse) or "none")
            + " |"
        )
    missing = [label(arm) for arm in CANDIDATES if arm not in screen]
    if missing:
        rows += ["", "Not screened in this run: " + "; ".join(missing) + "."]
    return [*rows, ""]
