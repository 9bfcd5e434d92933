"""The survey's simulated crowd: the volunteers benchmark's sessions (honest, careless, hostile;
Pareto activity; hostile people and classrooms sharing an address: `volunteers_crowd.make_crowd`),
the order in which they come back for a next subject, and what each one answers.

Every arm of a seed meets the same crowd: the same sessions arrive in the same order, and a session
classifying a subject gives the same answers in every arm (one uniform per subject, session and
question, drawn once), so the arms differ only in which subjects the product hands out and how it
counts the votes.
"""

from collections.abc import Iterator

import numpy as np

from benchmarks import volunteers_crowd

ARRIVALS_CHUNK = 4096


def make(arguments, p: np.ndarray, questions, rng: np.random.Generator) -> dict:
    """The crowd of one seed: kinds, address groups and activity of `arguments.crowd` sessions
    (`arguments.careless` and `arguments.hostile` shares), and the uniforms [subjects, sessions,
    questions] behind every classification one of them could make of a subject."""
    crowd = volunteers_crowd.make_crowd(arguments, rng)
    crowd["uniforms"] = rng.random((len(p), arguments.crowd, len(questions)))
    return crowd


def addresses(crowd: dict, seed: int) -> list[str]:
    """A client address per session, as a request would bring it: a group's sessions share one
    (hostile people's sessions, classrooms), every other session has its own."""
    groups = crowd["groups"]
    return [
        f"10.{seed % 250}.1.{group}" if group >= 0 else f"10.{seed % 250}.{2 + i // 250}.{i % 250}"
        for i, group in enumerate(groups)
    ]


def arrivals(crowd: dict, seed: int) -> Iterator[int]:
    """Sessions in the order they ask for a next subject: each draw by activity, the same
    sequence for every arm of the seed."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
    chance = crowd["activity"] / crowd["activity"].sum()
    while True:
        yield from (int(i) for i in rng.choice(len(chance), ARRIVALS_CHUNK, p=chance))


def annotations(crowd: dict, p: np.ndarray, subject: int, session: int, questions) -> dict:
    """The classification `session` gives `subject` ({question key: answer key}), following the
    tree with its kind's chance of each first answer (`volunteers_crowd.first_answer_probability`)."""
    chance = volunteers_crowd.first_answer_probability(crowd["kinds"][session], p[subject])
    given = volunteers_crowd.walk(chance, crowd["uniforms"][subject, session], questions)
    answers = {q.key: q.answers for q in questions}
    return {key: answers[key][answer] for key, answer in given.items()}
