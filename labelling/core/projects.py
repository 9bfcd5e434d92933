"""Projects and their question trees: create, change, delete (one transaction each)."""

import logging

from django.db import transaction
from django.db.models import F

from labelling.core import tree_changes
from labelling.core.errors import Conflict, InvalidInput
from labelling.core.selectors import project_has_subjects, project_tree
from labelling.core.tree import QuestionNode, Tree, tree_problems
from labelling.models import Answer, Classification, Project, Question

logger = logging.getLogger(__name__)

# --- projects and their question trees -----------------------------------------------------------


@transaction.atomic
def project_create(
    *, slug: str, title: str, questions: list[QuestionNode], **settings_values
) -> Project:
    """Create a project and its question tree; the first question is the root."""
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug {slug!r} already exists")
    project = Project(slug=slug, title=title, **settings_values)
    project.full_clean()
    project.save()
    project_tree_replace(project=project, questions=questions)
    return project


@transaction.atomic
def project_delete(*, slug: str) -> None:
    """Delete the project and everything of it (subjects, votes, versions); files stay on disk."""
    Project.objects.filter(slug=slug).delete()


@transaction.atomic
def project_tree_replace(*, project: Project, questions: list[QuestionNode]) -> None:
    """Replace the project's question tree. Refused once votes exist: they would lose their
    meaning (project_update corrects such a tree through labelling/core/tree_changes.py)."""
    _check_tree_spec(questions)
    if Classification.objects.filter(project=project).exists():
        raise Conflict(
            f"Project {project.slug!r} already has classifications: its questions can no longer "
            "be replaced (create a new project instead)"
        )
    Question.objects.filter(project=project).delete()
    # Web processes cache the tree by this stamp (labelling/core/snapshots.py).
    Project.objects.filter(pk=project.pk).update(serving_version=F("serving_version") + 1)
    project.refresh_from_db(fields=["serving_version"])
    by_key = {}
    for position, spec in enumerate(questions):
        by_key[spec.key] = Question.objects.create(
            project=project, key=spec.key, text=spec.text, position=position, is_root=position == 0
        )
    for spec in questions:
        for position, answer in enumerate(spec.answers):
            Answer.objects.create(
                question=by_key[spec.key],
                key=answer.key,
                text=answer.text,
                shortcut=answer.shortcut,
                position=position,
                next_question=by_key[answer.next_question] if answer.next_question else None,
            )


def _check_tree_spec(questions: list[QuestionNode]) -> None:
    problems = tree_problems(questions)
    if problems:
        raise InvalidInput("; ".join(problems))


# --- staff ---------------------------------------------------------------------------------------


@transaction.atomic
def project_update(
    *, project: Project, questions: list[QuestionNode] | None = None, by=None, **settings_values
) -> Project:
    """Change a project's settings and its tree: replaced while it has no votes, corrected after
    (labelling/core/tree_changes.py: wording in place, a change of shape as a new tree version,
    recorded as made `by`). Publishing a project with no images is refused (InvalidInput):
    volunteers would find nothing to classify."""
    if settings_values.get("is_published"):
        problem = project_publish_problem(project=project)
        if problem:
            raise InvalidInput(problem)
    for name, value in settings_values.items():
        setattr(project, name, value)
    project.full_clean()
    # Not serving_version: a stale copy of it must never overwrite a bump (labelling/queue/redis_queue.py);
    # nor the tree's version and the archive mark, which their own services write.
    project.save(
        update_fields=[
            field.name
            for field in Project._meta.concrete_fields
            if field.name not in ("id", "serving_version", "tree_version", "archived_at")
        ]
    )
    if questions is not None:
        current = project_tree(project=project)
        if not _specs_differ(current, questions):
            pass
        elif Classification.objects.filter(project=project).exists():
            _check_tree_spec(questions)
            tree_changes.project_tree_correct(project=project, questions=questions, by=by)
            project.refresh_from_db(fields=["tree_version", "serving_version"])
        else:
            project_tree_replace(project=project, questions=questions)
    return project


def project_publish_problem(*, project: Project) -> str | None:
    """Why the project cannot be published now (it has no images), else None."""
    if project_has_subjects(project=project):
        return None
    return (
        "A project with no images cannot be published: upload its images first, then publish it "
        "(received 'published' for a project with 0 images)"
    )


def _specs_differ(tree: Tree, questions: list[QuestionNode]) -> bool:
    """Whether `questions` (root first) is another tree than `tree`, question order aside."""
    if not questions:
        return bool(tree.questions)
    return set(tree.questions.values()) != set(questions) or tree.root != questions[0].key
