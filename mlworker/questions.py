"""The question tree as the model and the vote maths see it: one `QuestionConfig` per question.

Plain Python (no NumPy, no TensorFlow), so the web process (labelling.core.tree) uses the same
type as the worker, the benchmarks and the retirement rule. The web side's richer form (texts,
shortcuts) is labelling.core.tree.QuestionNode; `Tree.head_questions()` turns it into these.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# The galaxy tree of the demo, the benchmarks and the tests: its one definition, in the dict form
# (`from_dicts` for the model, `labelling.core.tree.nodes_from_dicts` for the web side).
GALAXY_QUESTIONS: list[dict] = [
    {
        "key": "smooth-or-featured",
        "text": "Is the galaxy simply smooth and rounded, with no sign of a disk?",
        "answers": [
            {"key": "smooth", "text": "Smooth", "shortcut": "s", "next": None},
            {"key": "featured", "text": "Features or disk", "shortcut": "f", "next": "edge-on"},
        ],
    },
    {
        "key": "edge-on",
        "text": "Could this be a disk viewed edge-on?",
        "answers": [
            {"key": "yes", "text": "Yes", "shortcut": "y", "next": None},
            {"key": "no", "text": "No", "shortcut": "n", "next": "bar"},
        ],
    },
    {
        "key": "bar",
        "text": "Is there a sign of a bar feature through the centre of the galaxy?",
        "answers": [
            {"key": "bar", "text": "Bar", "shortcut": "b", "next": None},
            {"key": "no-bar", "text": "No bar", "shortcut": "n", "next": None},
        ],
    },
]


@dataclass(frozen=True)
class QuestionConfig:
    """One question of the decision tree.

    `reached_from` lists (parent_question_key, parent_answer_key) edges; empty for the root.
    """

    key: str
    answers: tuple[str, ...]
    reached_from: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if len(self.answers) < 2:
            raise ValueError(
                f"Invalid question {self.key!r}: expected at least 2 answers, received {self.answers}"
            )


def from_dicts(questions: Sequence[dict]) -> tuple[QuestionConfig, ...]:
    """From the dict form [{"key", "answers": [{"key", "next"}, ...]}, ...] (GALAXY_QUESTIONS, a
    project's import file), in the order given."""
    edges: dict[str, list[tuple[str, str]]] = {question["key"]: [] for question in questions}
    for question in questions:
        for answer in question["answers"]:
            if answer.get("next") in edges:
                edges[answer["next"]].append((question["key"], answer["key"]))
    return tuple(
        QuestionConfig(
            question["key"],
            tuple(answer["key"] for answer in question["answers"]),
            tuple(edges[question["key"]]),
        )
        for question in questions
    )


def independent(count: int) -> tuple[QuestionConfig, ...]:
    """`count` yes/no questions every volunteer answers (a dataset without a tree)."""
    return tuple(QuestionConfig(f"q{i}", ("yes", "no")) for i in range(count))
