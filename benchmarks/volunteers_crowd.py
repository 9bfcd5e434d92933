"""The volunteers benchmark's crowd: sessions of each kind, their classifications along the tree,
production's weighted collection, the flags' recall and crowd-kit's aggregators beside them."""

import time

import numpy as np

from benchmarks import common
from mlworker import reliability

HOSTILE_SESSIONS = 5  # sessions per hostile person, from one address
CLASSROOMS, CLASSROOM_SIZE = 2, 5  # honest sessions sharing an address
MANY_VOTES = 50  # the bar for "found": bad sessions with at least this many classifications
TOP_UP_PASSES = 3  # rounds of extra classifications for subjects short of trusted votes


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
        for key, answer in walk(chance, uniforms, questions).items():
            for name, value in (("volunteer", session), ("subject", subject),
                                ("question", index[key]), ("answer", answer)):  # fmt: skip
                columns[name].append(value)
    return reliability.Votes.from_lists(
        **columns,
        answers_per_question=tuple(len(q.answers) for q in questions),
        volunteers=len(kinds),
        subjects=len(p),
    )


def walk(chance: np.ndarray, uniforms: np.ndarray, questions) -> dict[str, int]:
    """One classification along the tree of yes/no questions: {question key: answer index} for
    the questions reached, answer 0 where the question's uniform is below its first answer's
    chance. chance, uniforms: [questions] in the order of `questions`."""
    index = {q.key: i for i, q in enumerate(questions)}
    given: dict[str, int] = {}
    for question in questions:
        reached = not question.reached_from or any(
            given.get(parent) == question_answer_index(questions, index, parent, answer)
            for parent, answer in question.reached_from
        )
        if reached:
            i = index[question.key]
            given[question.key] = 0 if uniforms[i] < chance[i] else 1
    return given


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
    estimates = np.stack(
        [(table[:, 0] + 0.5) / (table.sum(axis=1) + 1.0) for table in counts], axis=1
    )
    return common.catalogue_rmse(estimates, p, reach)


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
