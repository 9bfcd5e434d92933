"""The question tree's own checks: a tree a volunteer can finish, every question asked of someone."""

import pytest

from labelling.core import projects
from labelling.core.errors import InvalidInput
from labelling.core.tree import AnswerNode, QuestionNode, find_loops, tree_problems
from labelling.models import Project


def question(key: str, *nexts: str | None) -> QuestionNode:
    """A yes/no question whose answers lead to `nexts` (None: the end)."""
    nexts = nexts or (None, None)
    return QuestionNode(
        key=key,
        text=f"{key}?",
        answers=tuple(
            AnswerNode(key=f"answer-{n}", text=f"Answer {n}", shortcut=str(n), next_question=nxt)
            for n, nxt in enumerate(nexts)
        ),
    )


def test_loops_are_found_with_the_questions_they_pass():
    assert find_loops([question("a", "b", None), question("b", "a", None)]) == [["a", "b", "a"]]
    assert find_loops([question("a", "a", None)]) == [["a", "a"]]
    # b and c both reach d: not a loop
    assert (
        find_loops([question("a", "b", "c"), question("b", "d"), question("c", "d"), question("d")])
        == []
    )


def test_project_creation_in_code_refuses_a_looping_tree_and_stores_nothing(db):
    with pytest.raises(InvalidInput, match=r"it loops \(a -> b -> a\)"):
        projects.project_create(
            slug="loops",
            title="Loops",
            questions=[question("a", "b", None), question("b", "a", None)],
        )
    assert not Project.objects.filter(slug="loops").exists()


def test_a_question_no_answer_reaches_is_refused(db):
    with pytest.raises(InvalidInput, match=r"Invalid question 'c': no answer leads to it"):
        projects.project_create(
            slug="island",
            title="Island",
            questions=[question("a", "b", None), question("b"), question("c")],
        )


def test_each_problem_of_a_tree_is_named_once():
    problems = tree_problems(
        [question("a", "b", "nowhere"), question("b", "a", None), question("c")]
    )
    assert len(problems) == len(set(problems)) == 3, problems
    assert "unknown question 'nowhere'" in problems[0]
    assert "a -> b -> a" in problems[1]
    assert "'c': no answer leads to it" in problems[2]
    assert tree_problems([question("a", "b", None), question("b")]) == []
