"""Corrections of a question tree with votes (labelling/core/tree_changes.py): a wording change
keeps every vote; a change of shape makes a new tree version, and no count mixes versions."""

import dataclasses

import pytest

from labelling.core import projects, selectors, votes
from labelling.core.errors import Conflict
from labelling.core.tree import AnswerNode
from labelling.crowd import crowd_selectors
from labelling.loop import model_selectors
from labelling.models import Classification, Project, Subject, TreeChange, Volunteer
from labelling.volunteer import submission
from tests.conftest import TWO_QUESTION_TREE

pytestmark = pytest.mark.django_db

FEATURED_BAR = {"smooth-or-featured": "featured", "bar": "bar"}
FEATURED_NO_BAR = {"smooth-or-featured": "featured", "bar": "no-bar"}
SMOOTH = {"smooth-or-featured": "smooth"}


def vote(project, subject, answers, key):
    project = Project.objects.get(pk=project.pk)
    return submission.classification_submit(
        project=project,
        volunteer=Volunteer.objects.create(),
        subject_id=subject.pk,
        annotations=answers,
        idempotency_key=key,
    )


@pytest.fixture
def voted(make_project):
    """Two subjects with six votes under the first tree: the first 2 bar, 1 no bar, 1 smooth; the
    second 1 bar, 1 smooth."""
    project = make_project(subjects=2, retirement_limit=50)
    first, second = project.subjects.order_by("pk")
    for number, answers in enumerate([FEATURED_BAR, FEATURED_BAR, FEATURED_NO_BAR, SMOOTH]):
        vote(project, first, answers, f"first-{number}")
    vote(project, second, FEATURED_BAR, "second-0")
    vote(project, second, SMOOTH, "second-1")
    return project


def reworded(tree):
    root, bar = tree
    return [
        dataclasses.replace(root, text="Is this galaxy smooth, or does it show features?"),
        dataclasses.replace(
            bar,
            text="Do you see a bar through the centre?",
            answers=(
                dataclasses.replace(bar.answers[0], text="Yes, a bar"),
                dataclasses.replace(bar.answers[1], text="No bar at all", shortcut="x"),
            ),
        ),
    ]


def with_maybe(tree):
    """The bar question gains an answer: its votes mean something else from now on."""
    root, bar = tree
    maybe = AnswerNode(key="maybe", text="Can't tell", shortcut="m")
    return [root, dataclasses.replace(bar, answers=(*bar.answers, maybe))]


def counts_of(project):
    return {
        subject.original_name: subject.vote_counts
        for subject in Subject.objects.filter(project=project)
    }


def test_a_wording_change_after_votes_keeps_every_vote(voted, staff):
    before = counts_of(voted)
    projects.project_update(project=voted, questions=reworded(TWO_QUESTION_TREE), by=staff)

    voted.refresh_from_db()
    tree = selectors.project_tree(project=voted)
    assert tree.questions["bar"].text == "Do you see a bar through the centre?"
    assert tree.questions["bar"].answers[1].shortcut == "x"
    assert voted.tree_version == 1
    assert counts_of(voted) == before
    assert Classification.objects.filter(project=voted).count() == 6
    change = TreeChange.objects.get(project=voted)
    assert (change.kind, change.version, change.by_name) == ("wording", 1, "staff")
    assert sorted(change.questions) == ["bar", "smooth-or-featured"]
    # A vote under the new words counts with the old ones.
    vote(voted, voted.subjects.order_by("pk").first(), FEATURED_BAR, "after")
    assert counts_of(voted)["galaxies-0.png"]["bar"] == {"bar": 3, "no-bar": 1}


def test_a_shape_change_makes_a_new_tree_version_and_no_count_mixes_versions(voted, staff):
    first, second = voted.subjects.order_by("pk")
    projects.project_update(project=voted, questions=with_maybe(TWO_QUESTION_TREE), by=staff)

    voted.refresh_from_db()
    assert voted.tree_version == 2
    assert selectors.question_versions(project_id=voted.pk) == {"smooth-or-featured": 1, "bar": 2}
    change = TreeChange.objects.get(project=voted)
    assert (change.kind, change.version, change.questions) == ("shape", 2, ["bar"])
    assert [a["key"] for a in change.before["questions"]["bar"]["answers"]] == ["bar", "no-bar"]
    # Every old classification is kept, with the version it was made under.
    assert list(Classification.objects.values_list("tree_version", flat=True)) == [1] * 6
    # The root still means what it meant: all its votes count; the bar question starts afresh.
    first.refresh_from_db()
    assert first.vote_counts == {"smooth-or-featured": {"featured": 3, "smooth": 1}}

    vote(voted, first, {"smooth-or-featured": "featured", "bar": "maybe"}, "v2-0")
    vote(voted, first, FEATURED_BAR, "v2-1")
    first.refresh_from_db()
    expected = {"smooth-or-featured": {"featured": 5, "smooth": 1}, "bar": {"maybe": 1, "bar": 1}}
    assert first.vote_counts == expected
    assert Classification.objects.get(idempotency_key="v2-0").tree_version == 2
    # Every count agrees: the rebuild from raw votes, the crowd's, the weighted and training's.
    assert votes.subject_recount(subject=first) == expected
    trusted = crowd_selectors.trusted_vote_counts(project=voted, subject_ids=[first.pk, second.pk])
    assert trusted[first.pk] == expected
    assert trusted[second.pk] == {"smooth-or-featured": {"featured": 1, "smooth": 1}}
    weighted = crowd_selectors.weighted_vote_counts(
        project=voted, subject_ids=[first.pk], weights={}
    )
    assert {key: sum(v.values()) for key, v in weighted[first.pk].items()} == {
        "smooth-or-featured": pytest.approx(6 * weighted_one(voted)),
        "bar": pytest.approx(2 * weighted_one(voted)),
    }
    training = model_selectors.training_set_for_project(project=voted)
    row = training.subject_ids.index(first.pk)
    assert training.counts["bar"][row].tolist() == [1, 0, 1]  # bar, no-bar, maybe: v2 only


def weighted_one(project) -> float:
    from mlworker.reliability import KIND_PRIOR

    return float(KIND_PRIOR[0])


def test_a_vote_checked_against_the_old_tree_is_refused_after_a_shape_change(voted):
    stale = Project.objects.get(pk=voted.pk)  # what a web process held before the change
    projects.project_update(project=voted, questions=with_maybe(TWO_QUESTION_TREE))
    subject = voted.subjects.order_by("pk").first()
    with pytest.raises(Conflict, match="changed while you answered"):
        submission.classification_submit(
            project=stale,
            volunteer=Volunteer.objects.create(),
            subject_id=subject.pk,
            annotations=FEATURED_BAR,
            idempotency_key="stale",
            tree=selectors.project_tree(project=voted),
        )
    assert not Classification.objects.filter(idempotency_key="stale").exists()


def test_rerouting_an_answer_changes_the_questions_it_leads_to_not_its_own(voted):
    """`featured` now leads to a new question instead of the bar question (removed): the root's
    answers mean what they meant, so its votes still count; the new question starts afresh."""
    root, bar = TWO_QUESTION_TREE
    spiral = dataclasses.replace(bar, key="spiral", text="Any spiral arms?")
    rerouted = dataclasses.replace(
        root,
        answers=(root.answers[0], dataclasses.replace(root.answers[1], next_question="spiral")),
    )
    projects.project_update(project=voted, questions=[rerouted, spiral])
    assert selectors.question_versions(project_id=voted.pk) == {
        "smooth-or-featured": 1,
        "spiral": 2,
    }
    first = voted.subjects.order_by("pk").first()
    first.refresh_from_db()
    assert first.vote_counts == {"smooth-or-featured": {"featured": 3, "smooth": 1}}
    assert Classification.objects.filter(project=voted).count() == 6
    assert TreeChange.objects.get(project=voted).questions == ["spiral", "bar"]
