"""Careless and hostile volunteers: are they found, and does weighting their votes undo the harm?

Per seed, from independent random streams: synthetic galaxies (a labelled pool and a test set), a
crowd of sessions with a realistic spread of activity (Pareto weights: a few sessions cast most
of the votes), and each pool subject's `votes` classifications by distinct sessions drawn in
proportion to activity. Every classification follows the galaxy tree from pre-drawn uniforms, so
an honest session casts the very same votes in every crowd below:

- **clean**: every session honest;
- **bad**: `careless` of the sessions careless (half press the first answer always, half answer at
  random) and `hostile` of them hostile (the opposite of the truth: answer 1 with probability 1 - p),
  hostile people using 5 sessions from one address each; two classrooms of honest sessions share
  an address too (5 each), so a shared address alone is no evidence.

Each crowd is collected twice. Unweighted: every subject retires at `votes` classifications, all
counted alike. Weighted, as production collects: `mlworker.reliability.estimate` (the worker's own
function, on the votes alone: no model prior) weighs every session after each pass (a round), and a
subject retires only on `votes` classifications from sessions not flagged, so the subjects short of
that get more, from sessions drawn by activity (up to TOP_UP_PASSES passes); the counts are the
weighted sums. Both go into production's fit
(`pipeline.fit_and_evaluate`, the default two networks) and into the catalogue (vote fractions).
Measured, same seeds, like with like: the CNN's test vote NLL (expected under the true p), the
catalogue's RMSE against the true p (each question weighted by the share of volunteers the true
p sends to it), the share of bad sessions flagged (recall, at >= 50 classifications and overall),
and honest sessions flagged by mistake.

    .venv/bin/python benchmarks/volunteers.py                   # the README's figures
    .venv/bin/python benchmarks/volunteers.py --preset small    # a few minutes
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402
from mlworker import reliability  # noqa: E402

RESULTS = common.RESULTS
README_MARKER = "volunteers"
PRESETS = {
    "standard": dict(pool=1000, test=1000, votes=15, crowd=400, seeds=5, image_size=32, samples=48),
    "small": dict(pool=150, test=150, votes=10, crowd=60, seeds=2, image_size=24, samples=10),
}
HOSTILE_SESSIONS = 5  # sessions per hostile person, from one address
CLASSROOMS, CLASSROOM_SIZE = 2, 5  # honest sessions sharing an address
MANY_VOTES = 50  # the bar for "found": bad sessions with at least this many classifications
TOP_UP_PASSES = 3  # rounds of extra classifications for subjects short of trusted votes
CONDITIONS = ("clean_unweighted", "clean_weighted", "bad_unweighted", "bad_weighted")


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description="Careless and hostile volunteers, weighted or not")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="standard")
    for name in ("pool", "test", "votes", "crowd", "seeds", "image-size", "samples", "epochs"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--members", type=int, help="networks per version (production's: unset)")
    parser.add_argument("--careless", type=float, default=0.15, help="share of sessions")
    parser.add_argument("--hostile", type=float, default=0.05, help="share of sessions")
    parser.add_argument(
        "--crowd-kit",
        action="store_true",
        help="also flag the bad crowd's sessions with crowd-kit's aggregators on the first "
        "question (pip install -e '.[compare]')",
    )
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the seeds <output>.partial.json holds (same settings) and run the rest",
    )
    parser.add_argument("--output", default="volunteers", help="result name")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    arguments = common.with_preset(parser.parse_args(argv), PRESETS)
    arguments.volunteers = arguments.votes  # test_point's N: the votes a subject gets
    return arguments


def make_crowd(arguments, rng: np.random.Generator) -> dict:
    """Sessions: kind ("honest", "one-button", "random", "hostile"), activity weight, address group
    (-1: an address of its own)."""
    sessions = arguments.crowd
    hostile_people = max(1, round(arguments.hostile * sessions / HOSTILE_SESSIONS))
    careless = round(arguments.careless * sessions)
    kinds = (
        ["hostile"] * (hostile_people * HOSTILE_SESSIONS)
        + ["one-button"] * (careless // 2)
        + ["random"] * (careless - careless // 2)
    )
    kinds += ["honest"] * (sessions - len(kinds))
    groups = np.full(sessions, -1)
    activity = rng.pareto(1.0, sessions) + 1.0
    for person in range(hostile_people):
        members = slice(person * HOSTILE_SESSIONS, (person + 1) * HOSTILE_SESSIONS)
        groups[members] = person
        activity[members] = activity[members].mean()  # one person's effort over their sessions
    honest = np.flatnonzero(np.array(kinds) == "honest")
    for room in range(CLASSROOMS):
        groups[honest[room * CLASSROOM_SIZE : (room + 1) * CLASSROOM_SIZE]] = hostile_people + room
    return {"kinds": np.array(kinds), "groups": groups, "activity": activity}


def first_answer_probability(kind: str, p: np.ndarray) -> np.ndarray:
    """[questions]: the probability of each question's first answer for a session of this kind."""
    if kind == "honest":
        return p
    if kind == "one-button":
        return np.ones_like(p)
    if kind == "random":
        return np.full_like(p, 0.5)
    return 1.0 - p  # hostile


def simulate_votes(p, classifications: dict, kinds, questions) -> reliability.Votes:
    """Every classification along the tree. classifications: "subject", "session" [n] and
    "uniforms" [n, questions]; a question is answered when an answer leading to it was given."""
    index = {q.key: i for i, q in enumerate(questions)}
    columns = {"volunteer": [], "subject": [], "question": [], "answer": []}
    for subject, session, uniforms in zip(
        classifications["subject"], classifications["session"], classifications["uniforms"],
        strict=True,
    ):  # fmt: skip
        chance = first_answer_probability(kinds[session], p[subject])
        given: dict[str, int] = {}
        for question in questions:
            reached = not question.reached_from or any(
                given.get(parent) == question_answer_index(questions, index, parent, answer)
                for parent, answer in question.reached_from
            )
            if not reached:
                continue
            i = index[question.key]
            given[question.key] = 0 if uniforms[i] < chance[i] else 1
            for name, value in (("volunteer", session), ("subject", subject), ("question", i),
                                ("answer", given[question.key])):  # fmt: skip
                columns[name].append(value)
    return reliability.Votes.from_lists(
        **columns,
        answers_per_question=tuple(len(q.answers) for q in questions),
        volunteers=len(kinds),
        subjects=len(p),
    )


def draw(subjects, how_many, chance, taken, rng, questions: int) -> dict:
    """New classifications: for each subject, how_many sessions by activity, none it already had."""
    chosen_subjects, chosen_sessions = [], []
    for subject, count in zip(subjects, how_many, strict=True):
        weights = chance.copy()
        weights[list(taken.get(subject, ()))] = 0.0
        count = min(int(count), int(np.sum(weights > 0)))
        sessions = rng.choice(len(chance), count, replace=False, p=weights / weights.sum())
        taken.setdefault(subject, set()).update(int(x) for x in sessions)
        chosen_subjects += [subject] * count
        chosen_sessions += sessions.tolist()
    return {
        "subject": np.array(chosen_subjects, dtype=np.int64),
        "session": np.array(chosen_sessions, dtype=np.int64),
        "uniforms": rng.random((len(chosen_subjects), questions)),
    }


def joined(first: dict, second: dict) -> dict:
    return {key: np.concatenate([first[key], second[key]]) for key in first}


def collect_weighted(p, first, kinds, questions, crowd, arguments, rng):
    """Production's collection with weighting on: a subject retires only on `votes` classifications
    from volunteers not flagged, so after each estimate (a round) the subjects short of that get
    more. Returns (classifications, votes, final estimate, passes run)."""
    classifications, taken = dict(first), {}
    for subject, session in zip(first["subject"], first["session"], strict=True):
        taken.setdefault(int(subject), set()).add(int(session))
    chance = crowd["activity"] / crowd["activity"].sum()
    for passes in range(TOP_UP_PASSES + 1):
        votes = simulate_votes(p, classifications, kinds, questions)
        estimate = reliability.estimate(votes, groups=crowd["groups"])
        trusted = np.bincount(
            classifications["subject"],
            weights=~estimate.flagged[classifications["session"]],
            minlength=len(p),
        )
        short = np.flatnonzero(trusted < arguments.votes)
        if passes == TOP_UP_PASSES or len(short) == 0:
            return classifications, votes, estimate, passes
        more = draw(short, arguments.votes - trusted[short], chance, taken, rng, len(questions))
        classifications = joined(classifications, more)


def question_answer_index(questions, index: dict, parent: str, answer: str) -> int:
    return questions[index[parent]].answers.index(answer)


def catalogue_rmse(counts: list[np.ndarray], p: np.ndarray, reach: np.ndarray) -> float:
    """RMSE against the true p of each question's first-answer estimate (k + 1/2) / (N + 1) — the
    vote fraction, kept off 0 and 1, and 1/2 where nobody (or only weight near 0) answered — each
    question weighted by its true reach share. The same for every crowd and weighting."""
    errors = np.stack(
        [
            (table[:, 0] + 0.5) / (table.sum(axis=1) + 1.0) - p[:, q]
            for q, table in enumerate(counts)
        ],
        axis=1,
    )
    return float(np.sqrt(np.sum(reach * errors**2) / np.sum(reach)))


def run_seed(seed: int, arguments) -> dict:
    from mlworker import synthetic

    started = time.time()
    streams = synthetic.streams(seed)
    rng = np.random.default_rng(streams["votes"])
    total = arguments.pool + arguments.test
    galaxies = synthetic.make_galaxies(total, size=arguments.image_size, seed=streams["galaxies"])
    questions = common.questions_for(galaxies.p.shape[1], dataset=False)
    pool, test = slice(0, arguments.pool), slice(arguments.pool, total)
    p = galaxies.p[pool]
    test_counts = synthetic.simulate_vote_counts(galaxies.p[test], arguments.votes, rng, questions)
    data = common.test_set(
        galaxies.images[test],
        galaxies.p[test],
        {q.key: test_counts[:, i] for i, q in enumerate(questions)},
        questions,
    )
    crowd = make_crowd(arguments, rng)
    chance = crowd["activity"] / crowd["activity"].sum()
    first = draw(
        np.arange(len(p)), np.full(len(p), arguments.votes), chance, {}, rng, len(questions)
    )
    reach = common.true_reach(p, questions)
    crowds = {"clean": np.array(["honest"] * arguments.crowd), "bad": crowd["kinds"]}
    outcome, found = {}, {}
    for name, kinds in crowds.items():
        top_up = np.random.default_rng([seed, 1])  # the same extra draws for both crowds
        for weighting in ("unweighted", "weighted"):
            if weighting == "unweighted":
                classifications = first
                votes, weight = simulate_votes(p, first, kinds, questions), None
            else:
                classifications, votes, estimate, passes = collect_weighted(
                    p, first, kinds, questions, crowd, arguments, top_up
                )
                weight = estimate.weight
                per_session = np.bincount(classifications["session"], minlength=len(kinds))
                found[name] = {**flags(estimate, kinds, per_session), "passes": passes}
            counts = reliability.weighted_counts(votes, weight)
            fitted = common.fit(
                galaxies.images[pool],
                {q.key: counts[i] for i, q in enumerate(questions)},
                list(range(len(p))),
                questions,
                common.production_settings(epochs=arguments.epochs, members=arguments.members),
                samples=arguments.samples,
                seed=seed,
                rotation_invariant=True,
            )
            point = common.test_point(fitted, data, arguments)
            outcome[f"{name}_{weighting}"] = {
                "nll": point["nll"],
                "baseline_nll": point["baseline_nll"],
                "rmse": catalogue_rmse(counts, p, reach),
                "classifications": int(len(classifications["subject"])),
            }
    result = {
        "seed": seed,
        "conditions": outcome,
        "flags": found,
        "sessions": {
            kind: int(np.sum(crowd["kinds"] == kind)) for kind in np.unique(crowd["kinds"])
        },
        "classifications_by_top_tenth": top_share(first["session"], arguments.crowd),
        "crowd_kit": crowd_kit_flags(p, first, crowd["kinds"], questions)
        if arguments.crowd_kit
        else None,
        "seconds": round(time.time() - started, 1),
    }
    print(
        f"seed {seed}: "
        + "; ".join(f"{k} NLL {v['nll']:.3f} RMSE {v['rmse']:.4f}" for k, v in outcome.items())
        + f"; bad found {found['bad']['recall_many']}, honest flagged {found['bad']['honest_flagged']}",
        flush=True,
    )
    return result


# crowd-kit's aggregators estimate each worker's skill jointly with one discrete label per item:
# here the first question's answers of the bad crowd's first pass. A session is flagged when its
# skill is no better than this (our weight's 0.5 has no counterpart in their units).
CROWD_KIT_FLAGS = {
    "DawidSkene": ("mean of the confusion matrix's diagonal", 0.6),
    "OneCoinDawidSkene": ("skill", 0.6),
    "MACE": ("competence", 0.5),
    "GLAD": ("expertise alpha", 0.5),
}


def crowd_kit_flags(p, first: dict, kinds, questions) -> dict:
    """Each aggregator's flags on the bad crowd, scored as ours are (`flags`)."""
    import warnings

    import crowdkit.aggregation as aggregation
    import pandas as pd

    votes = simulate_votes(p, first, kinds, questions)
    root = votes.question == 0
    table = pd.DataFrame(
        {"task": votes.subject[root], "worker": votes.volunteer[root], "label": votes.answer[root]}
    )
    classifications = np.bincount(first["session"], minlength=len(kinds))
    first_question = reliability.Votes(
        *(getattr(votes, name)[root] for name in ("volunteer", "subject", "question", "answer")),
        votes.answers_per_question, votes.volunteers, votes.subjects,
    )  # fmt: skip
    found = {
        # Ours on the same pass, like with like (first question), and as production runs it.
        "starling, first question": flags(
            reliability.estimate(first_question), kinds, classifications
        ),
        "starling, every question": flags(reliability.estimate(votes), kinds, classifications),
    }
    for name, (_, threshold) in CROWD_KIT_FLAGS.items():
        started = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = getattr(aggregation, name)(n_iter=100 if "Skene" in name else 50).fit(table)
        skill = _skill(name, model, table)
        workers = np.full(len(kinds), np.inf)  # sessions that never answered are not flagged
        workers[skill.index.to_numpy(dtype=np.int64)] = skill.to_numpy(dtype=np.float64)
        flagged = workers < threshold
        bad, many = kinds != "honest", classifications >= MANY_VOTES
        found[name] = {
            "recall_many": round(float(flagged[bad & many].mean()), 4)
            if (bad & many).any()
            else None,
            "recall": round(float(flagged[bad].mean()), 4),
            "honest_flagged": round(float(flagged[~bad & (classifications > 0)].mean()), 4),
            "seconds": round(time.time() - started, 1),
        }
    return found


def _skill(name: str, model, table):
    """A pandas Series of skill per worker id, from each aggregator's own attributes."""
    import pandas as pd

    if name == "DawidSkene":  # errors_: rows (worker, observed), columns true label
        errors = model.errors_
        diagonal = [
            errors.xs(label, level=1)[label] for label in errors.columns if label in
            errors.index.get_level_values(1)
        ]  # fmt: skip
        return pd.concat(diagonal, axis=1).fillna(0).mean(axis=1)
    if name == "OneCoinDawidSkene":
        return model.skills_
    if name == "GLAD":
        return model.alphas_
    # MACE: spamming_[:, 1] is each worker's chance of giving the true label (competence), rows in
    # the order workers first appear in the table (its pd.factorize).
    return pd.Series(model.spamming_[:, 1], index=pd.unique(table["worker"]))


def top_share(sessions_of: np.ndarray, sessions: int) -> float:
    """The share of classifications cast by the most active tenth of the sessions."""
    per_session = np.sort(np.bincount(sessions_of, minlength=sessions))[::-1]
    return round(float(per_session[: max(1, sessions // 10)].sum() / per_session.sum()), 3)


def flags(estimate: reliability.Reliability, kinds: np.ndarray, classifications) -> dict:
    """Recall of bad sessions (all, and those with >= MANY_VOTES classifications), honest sessions
    flagged (of those that classified), and the flags' precision."""
    bad = kinds != "honest"
    many = classifications >= MANY_VOTES

    def share(mask):
        return round(float(estimate.flagged[mask].mean()), 4) if mask.any() else None

    flagged = estimate.flagged
    return {
        "recall": share(bad),
        "recall_many": share(bad & many),
        "bad_many": int(np.sum(bad & many)),
        "honest_flagged": share(~bad & (classifications > 0)),
        "precision": round(float(bad[flagged].mean()), 4) if flagged.any() else None,
        "by_kind": {
            kind: share(kinds == kind)
            for kind in ("one-button", "random", "hostile")
            if np.any(kinds == kind)
        },  # fmt: skip
    }


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
        interval, _ = common.paired_interval(lambda a, b: float(np.mean(a - b)), first, second)
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
        f"{settings['seeds']} seeds, run of {when} ({common.duration(result)}, "
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
        f"{kind} {common.percent(share)}" for kind, share in flagged["by_kind"].items()
    )
    lines += [
        "",
        f"Bad sessions with at least {MANY_VOTES} classifications flagged: "
        f"**{common.percent(head['bad_found_recall'])}** (all bad sessions: "
        f"{common.percent(flagged['bad_found_recall_all'])}; by kind: {by_kind}); honest sessions "
        f"flagged: **{common.percent(head['honest_flagged_share'])}** in the bad crowd, "
        f"{common.percent(flagged['honest_flagged_share_clean_crowd'])} in the clean one; "
        f"precision of the flags {common.percent(flagged['precision'])}.",
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
            f"| {method} | {common.percent(values['recall_many'])} | "
            f"{common.percent(values['recall'])} | {common.percent(values['honest_flagged'])} |"
        )
    return lines


def _difference(entry: dict, digits: int = 3) -> str:
    low, high = entry["interval"]
    bounds = f" ({low:+.{digits}f} to {high:+.{digits}f})" if low == low else ""
    return f"{entry['mean']:+.{digits}f}{bounds}"


def main(argv=None) -> dict:
    from benchmarks import plots

    arguments = parse_arguments(argv)
    started = time.time()
    seeds, seconds = common.run_seeds_resumable(run_seed, arguments, range(arguments.seeds))
    summary = summarise(seeds)
    result = common.record(
        headline(summary), arguments, argv, "volunteers.py", started, summary=summary, seeds=seeds
    )
    result["seconds"] = seconds  # every part of a resumed run
    plots.volunteers(summary, common.write_result(result, arguments.results_dir, arguments.output))
    return result


if __name__ == "__main__":
    main()
