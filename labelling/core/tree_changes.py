"""Corrections of a question tree that already has votes, kept honest.

- A **wording** change (a question's or an answer's text, an answer's shortcut) changes what
  volunteers read, not what a vote means: it is made in place and every vote still counts.
- A **shape** change (answers added or removed, an answer leading elsewhere, a question added or
  removed) makes a new version of the tree
  (`Project.tree_version`). Each question whose meaning changed (its answers, or which answers
  lead to it: an answer re-routed changes the questions at both of its ends, not its own)
  dates from the new version (`Question.since_version`); each classification keeps the version it was made under
  (`Classification.tree_version`), so an old vote counts only for the questions whose meaning it
  saw (labelling/core/votes.py, `annotations_counted`), and the subjects' counts are rebuilt at once.
  A model version trained on the old tree no longer steers retirement (ModelVersion.tree_version).

Either way the change is recorded (TreeChange: who, when, which questions, the tree before and
after) and shown on the dashboard and the settings page. Before the first vote a tree is simply
replaced (labelling/core/projects.py).
"""

from django.db import transaction
from django.db.models import F

from labelling.core.selectors import project_tree, question_versions
from labelling.core.tree import QuestionNode, Tree, tree_from_nodes
from labelling.core.votes import annotations_counted, counts_add
from labelling.models import (
    Answer,
    Classification,
    Project,
    Question,
    Subject,
    TreeChange,
    TreeChangeKind,
)

CHUNK = 5000


def _shape(tree: Tree) -> dict[str, tuple]:
    """{question: what its votes mean}: its answers, what leads to it (which volunteers reach it),
    and whether it is the first question. Texts and shortcuts are not part of it, nor where its
    answers lead: that changes the meaning of the questions they lead to."""
    leads_to: dict[str, set] = {key: set() for key in tree.questions}
    for key, question in tree.questions.items():
        for answer in question.answers:
            if answer.next_question in leads_to:
                leads_to[answer.next_question].add((key, answer.key))
    return {
        key: (
            tuple(answer.key for answer in question.answers),
            frozenset(leads_to[key]),
            key == tree.root,
        )
        for key, question in tree.questions.items()
    }


def tree_difference(current: Tree, proposed: Tree) -> tuple[list[str], list[str]]:
    """(questions whose meaning changes, questions whose words change) from `current` to
    `proposed`; a removed question counts as a change of meaning."""
    before, after = _shape(current), _shape(proposed)
    meaning = [key for key in after if before.get(key) != after[key]]
    meaning += [key for key in before if key not in after]
    wording = [
        key
        for key in after
        if key in before
        and key not in meaning
        and proposed.questions[key] != current.questions[key]
    ]
    return meaning, wording


@transaction.atomic
def project_tree_correct(*, project: Project, questions: list[QuestionNode], by=None) -> TreeChange:
    """Change the tree of a project that has votes (the tree checked already): in place for a
    wording change, as a new tree version for a change of shape. Returns the recorded change, or
    None when nothing changed."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    current, proposed = project_tree(project=project), tree_from_nodes(questions)
    meaning, wording = tree_difference(current, proposed)
    if not meaning and not wording:
        return None
    version = project.tree_version + 1 if meaning else project.tree_version
    _questions_write(project, questions, changed=set(meaning), version=version)
    Project.objects.filter(pk=project.pk).update(
        tree_version=version, serving_version=F("serving_version") + 1
    )
    if meaning:
        subjects_recount(project_id=project.pk)
    return TreeChange.objects.create(
        project=project,
        by=by if by is not None and by.is_authenticated else None,
        by_name=by.get_username() if by is not None and by.is_authenticated else "",
        kind=TreeChangeKind.SHAPE if meaning else TreeChangeKind.WORDING,
        version=version,
        questions=meaning or wording,
        before=current.as_json(),
        after=proposed.as_json(),
    )


def _questions_write(project, questions: list[QuestionNode], *, changed: set, version: int):
    """The questions as given, kept by key (a question whose meaning changed dates from
    `version`), the others deleted, every answer written anew."""
    existing = {question.key: question for question in Question.objects.filter(project=project)}
    Question.objects.filter(project=project).exclude(key__in=[q.key for q in questions]).delete()
    Question.objects.filter(project=project).update(is_root=False)
    by_key = {}
    for position, spec in enumerate(questions):
        row = existing.get(spec.key) or Question(project=project, key=spec.key)
        row.text, row.position, row.is_root = spec.text, position, position == 0
        if spec.key in changed or row.pk is None:
            row.since_version = version
        row.save()
        by_key[spec.key] = row
    Answer.objects.filter(question__project=project).delete()
    Answer.objects.bulk_create(
        Answer(
            question=by_key[spec.key],
            key=answer.key,
            text=answer.text,
            shortcut=answer.shortcut,
            position=position,
            next_question=by_key.get(answer.next_question),
        )
        for spec in questions
        for position, answer in enumerate(spec.answers)
    )


def subjects_recount(*, project_id: int) -> int:
    """Rebuild every subject's vote counts from its classifications, counting each answer only
    where it still means what it meant (`annotations_counted`); the subjects are locked while it
    runs. Returns how many subjects changed."""
    since = question_versions(project_id=project_id)
    subjects = {
        subject.pk: subject
        for subject in Subject.objects.select_for_update()
        .filter(project_id=project_id)
        .only("pk", "vote_counts")
    }
    counts: dict[int, dict] = {pk: {} for pk in subjects}
    rows = Classification.objects.filter(project_id=project_id).values_list(
        "subject_id", "annotations", "tree_version"
    )
    for subject_id, annotations, made_under in rows.iterator(chunk_size=CHUNK):
        counts_add(counts[subject_id], annotations_counted(annotations, made_under, since))
    changed = [subject for pk, subject in subjects.items() if subject.vote_counts != counts[pk]]
    for subject in changed:
        subject.vote_counts = counts[subject.pk]
    Subject.objects.bulk_update(changed, ["vote_counts"], batch_size=CHUNK)
    return len(changed)


def tree_changes_list(*, project: Project, limit: int = 20) -> list[TreeChange]:
    return list(TreeChange.objects.filter(project=project)[:limit])
