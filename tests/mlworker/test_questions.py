"""The one question-tree type: the dict form, the web tree and the model see the same edges."""

import pytest

from labelling.core import tree
from mlworker import questions, synthetic
from mlworker.questions import QuestionConfig


def test_the_galaxy_tree_from_its_dict_form():
    assert questions.from_dicts(synthetic.GALAXY_QUESTIONS) == (
        QuestionConfig("smooth-or-featured", ("smooth", "featured")),
        QuestionConfig("edge-on", ("yes", "no"), (("smooth-or-featured", "featured"),)),
        QuestionConfig("bar", ("bar", "no-bar"), (("edge-on", "no"),)),
    )


def test_a_question_reached_by_two_answers_keeps_both_edges():
    tree = [
        {
            "key": "kind",
            "answers": [{"key": "round", "next": "size"}, {"key": "disc", "next": "size"}],
        },
        {"key": "size", "answers": [{"key": "big"}, {"key": "small"}]},
    ]
    size = questions.from_dicts(tree)[1]
    assert size.reached_from == (("kind", "round"), ("kind", "disc"))


def test_the_web_tree_gives_the_workers_questions():
    nodes = {node.key: node for node in tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS)}
    web = tree.Tree(root="smooth-or-featured", questions=nodes).head_questions()
    assert web == questions.from_dicts(synthetic.GALAXY_QUESTIONS)


def test_a_question_needs_two_answers():
    with pytest.raises(ValueError, match="expected at least 2 answers"):
        QuestionConfig("lonely", ("yes",))


def test_independent_questions_have_no_parents():
    assert [q.reached_from for q in questions.independent(3)] == [(), (), ()]
