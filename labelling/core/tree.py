"""The question tree of a project as plain data, and the check that answers follow it.

Pure functions over a `Tree` (no queries) so that services, selectors, exports and the ML bridge
all walk the tree the same way.
"""

from dataclasses import dataclass, field

from labelling.core.errors import InvalidInput
from mlworker.questions import QuestionConfig, from_dicts


@dataclass(frozen=True)
class AnswerNode:
    key: str
    text: str
    shortcut: str
    next_question: str | None = None


@dataclass(frozen=True)
class QuestionNode:
    key: str
    text: str
    answers: tuple[AnswerNode, ...]

    def answer(self, key: str) -> AnswerNode | None:
        return next((answer for answer in self.answers if answer.key == key), None)


@dataclass(frozen=True)
class Tree:
    root: str | None
    questions: dict[str, QuestionNode] = field(default_factory=dict)

    def ordered_keys(self) -> list[str]:
        """Question keys, root first, then in the order they are reached (breadth first)."""
        order: list[str] = []
        queue = [self.root] if self.root else []
        while queue:
            key = queue.pop(0)
            if key in order or key not in self.questions:
                continue
            order.append(key)
            queue.extend(a.next_question for a in self.questions[key].answers if a.next_question)
        order.extend(key for key in self.questions if key not in order)
        return order

    def loops(self) -> list[list[str]]:
        """Every loop in the tree as the questions it passes, e.g. ["a", "b", "a"]; [] for a tree."""
        return find_loops(list(self.questions.values()))

    def head_questions(self) -> tuple[QuestionConfig, ...]:
        """The questions as the model's heads and the vote maths see them, parents first."""
        return from_dicts(
            [
                {
                    "key": key,
                    "answers": [
                        {"key": a.key, "next": a.next_question} for a in self.questions[key].answers
                    ],
                }
                for key in self.ordered_keys()
            ]
        )

    def as_json(self) -> dict:
        return {
            "root": self.root,
            "questions": {
                key: {
                    "key": key,
                    "text": question.text,
                    "answers": [
                        {
                            "key": answer.key,
                            "text": answer.text,
                            "shortcut": answer.shortcut,
                            "next": answer.next_question,
                        }
                        for answer in question.answers
                    ],
                }
                for key, question in self.questions.items()
            },
        }


def tree_from_nodes(nodes: list[QuestionNode]) -> Tree:
    """A tree from its questions, the first one the root."""
    return Tree(root=nodes[0].key if nodes else None, questions={node.key: node for node in nodes})


def nodes_from_dicts(questions: list[dict]) -> list[QuestionNode]:
    """[{key, text, answers: [{key, text, shortcut, next}]}] (the dict form of
    questions.GALAXY_QUESTIONS and of import files) -> nodes."""
    return [
        QuestionNode(
            key=question["key"],
            text=question["text"],
            answers=tuple(
                AnswerNode(
                    key=a["key"],
                    text=a["text"],
                    shortcut=a["shortcut"],
                    next_question=a.get("next"),
                )
                for a in question["answers"]
            ),
        )
        for question in questions
    ]


def find_loops(questions: list[QuestionNode]) -> list[list[str]]:
    """The loops among `questions`, each once, as paths that end where they start: ["a", "b", "a"].

    Depth-first from every question in order; an answer leading back to a question on the current
    path closes a loop. Answers leading to unknown questions are ignored here."""
    known = {question.key: question for question in questions}
    finished: set[str] = set()
    loops: list[list[str]] = []

    def visit(key: str, path: list[str]) -> None:
        path.append(key)
        for answer in known[key].answers:
            following = answer.next_question
            if following in path:
                loops.append([*path[path.index(following) :], following])
            elif following in known and following not in finished:
                visit(following, path)
        path.pop()
        finished.add(key)

    for question in questions:
        if question.key not in finished:
            visit(question.key, [])
    return loops


def tree_problems(questions: list[QuestionNode]) -> list[str]:
    """Every reason `questions` (the first one the root) cannot be a project's tree, each once.

    [] for a good tree. A tree must end for every volunteer (no loops) and ask every question of
    someone (each question after the first follows an answer that the root leads to)."""
    if not questions:
        return ["Invalid question tree: expected at least one question, received none"]
    keys = [question.key for question in questions]
    problems = []
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        problems.append(f"Invalid question tree: question keys {repeated} repeat in {keys}")
    for question in questions:
        problems.extend(_question_problems(question, keys))
    for loop in find_loops(questions):
        problems.append(
            f"Invalid question tree: it loops ({' -> '.join(loop)}), so a volunteer who takes "
            "these answers never finishes; expected every path of answers to end"
        )
    tree = tree_from_nodes(questions)
    reached = {tree.root}
    frontier = [tree.root]
    while frontier:
        question = tree.questions[frontier.pop()]
        for answer in question.answers:
            if answer.next_question in tree.questions and answer.next_question not in reached:
                reached.add(answer.next_question)
                frontier.append(answer.next_question)
    for key in dict.fromkeys(keys):
        if key not in reached:
            problems.append(
                f"Invalid question {key!r}: no answer leads to it from the first question "
                f"{keys[0]!r}, so no volunteer would ever see it; expected an answer '-> {key}'"
            )
    return problems


def _question_problems(question: QuestionNode, keys: list[str]) -> list[str]:
    problems = []
    if len(question.answers) < 2:
        problems.append(
            f"Invalid question {question.key!r}: expected at least 2 answers, "
            f"received {len(question.answers)}"
        )
    answer_keys = [answer.key for answer in question.answers]
    shortcuts = [answer.shortcut for answer in question.answers]
    if len(set(answer_keys)) != len(answer_keys):
        problems.append(f"Invalid question {question.key!r}: answer keys repeat in {answer_keys}")
    if len(set(shortcuts)) != len(shortcuts) or any(len(s) != 1 for s in shortcuts):
        problems.append(
            f"Invalid question {question.key!r}: expected one distinct single-character "
            f"shortcut per answer, received {shortcuts}"
        )
    for answer in question.answers:
        if answer.next_question is not None and answer.next_question not in keys:
            problems.append(
                f"Invalid answer {question.key}:{answer.key}: it leads to unknown question "
                f"{answer.next_question!r}; expected one of {keys}"
            )
    return problems


def validate_annotations(tree: Tree, annotations: object) -> dict[str, str]:
    """Check that `annotations` ({question_key: answer_key}) walks the tree from the root to a leaf.

    Returns the annotations in the order they were answered; raises InvalidInput naming the problem.
    """
    if not isinstance(annotations, dict) or not annotations:
        raise InvalidInput(
            "Invalid value for answers: expected a non-empty object {question_key: answer_key}, "
            f"received {type(annotations).__name__} {annotations!r:.80}"
        )
    for key, value in annotations.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput(
                f"Invalid answer {key!r}: {value!r:.80}: expected question and answer keys as strings"
            )
    if tree.root is None:
        raise InvalidInput("This project has no questions yet: nothing can be answered")
    unknown = [key for key in annotations if key not in tree.questions]
    if unknown:
        raise InvalidInput(
            f"Unknown question {unknown[0]!r}: expected one of {sorted(tree.questions)}"
        )
    walked: dict[str, str] = {}
    question_key: str | None = tree.root
    while question_key is not None:
        question = tree.questions[question_key]
        if question_key not in annotations:
            raise InvalidInput(
                f"Missing answer to question {question_key!r}: the tree reaches it from "
                f"{list(walked) or 'the start'}"
            )
        answer = question.answer(annotations[question_key])
        if answer is None:
            raise InvalidInput(
                f"Unknown answer {annotations[question_key]!r} to question {question_key!r}: "
                f"expected one of {[a.key for a in question.answers]}"
            )
        walked[question_key] = answer.key
        question_key = answer.next_question
        if question_key in walked:
            raise InvalidInput(f"The question tree loops back to {question_key!r}")
    extra = [key for key in annotations if key not in walked]
    if extra:
        raise InvalidInput(
            f"Answer to question {extra[0]!r} does not follow the tree: the answers given "
            f"({walked}) never reach it"
        )
    return walked
