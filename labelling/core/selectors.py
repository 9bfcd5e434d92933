"""Reads shared by every part of the app: projects, their trees, a subject of a project."""

from collections import defaultdict

from django.db.models import QuerySet

from labelling.core.errors import NotFound
from labelling.core.tree import AnswerNode, QuestionNode, Tree
from labelling.models import (
    AcquisitionRound,
    Answer,
    Project,
    Question,
    RetirementReason,
    RetirementRule,
    Subject,
)


def project_list_published() -> QuerySet[Project]:
    return Project.objects.filter(is_published=True).order_by("title")


def project_list_all() -> QuerySet[Project]:
    return Project.objects.order_by("title")


def project_get(*, project_id: int) -> Project:
    return Project.objects.get(pk=project_id)


def projects_model_aware(*, project_id: int | None = None) -> QuerySet[Project]:
    """Projects whose retirement rule is model-aware (only `project_id`'s when given)."""
    projects = Project.objects.filter(retirement_rule=RetirementRule.MODEL_AWARE)
    return projects if project_id is None else projects.filter(pk=project_id)


def project_has_round(*, project_id: int) -> bool:
    """Whether a model has ranked the project's subjects yet (a round was recorded)."""
    return AcquisitionRound.objects.filter(project_id=project_id).exists()


def project_has_subjects(*, project: Project) -> bool:
    """Whether the project has any image (an unsaved project has none)."""
    return project.pk is not None and Subject.objects.filter(project_id=project.pk).exists()


def project_has_votes(*, project: Project) -> bool:
    return project.classifications.exists()


def project_slug_taken(*, slug: str) -> bool:
    return Project.objects.filter(slug=slug).exists()


def project_retrain_claim(*, project_id: int) -> tuple[str, str, object]:
    """The project's retrain claim as it is now: (state, token, claimed_at)."""
    return Project.objects.values_list("retrain_state", "retrain_token", "retrain_claimed_at").get(
        pk=project_id
    )


def project_get_by_slug(*, slug: str) -> Project:
    try:
        return Project.objects.get(slug=slug)
    except Project.DoesNotExist:
        raise NotFound(f"Unknown project {slug!r}") from None


def project_tree(*, project: Project) -> Tree:
    """The question tree as plain data (two queries)."""
    answers_by_question: dict[int, list[AnswerNode]] = defaultdict(list)
    for answer in (
        Answer.objects.filter(question__project=project)
        .select_related("next_question")
        .order_by("position", "id")
    ):
        answers_by_question[answer.question_id].append(
            AnswerNode(
                key=answer.key,
                text=answer.text,
                shortcut=answer.shortcut,
                next_question=answer.next_question.key if answer.next_question_id else None,
            )
        )
    questions = {}
    root = None
    for question in Question.objects.filter(project=project).order_by("position", "id"):
        questions[question.key] = QuestionNode(
            key=question.key,
            text=question.text,
            answers=tuple(answers_by_question[question.id]),
        )
        if question.is_root:
            root = question.key
    if root is None and questions:
        root = next(iter(questions))
    return Tree(root=root, questions=questions)


def question_versions(*, project_id: int) -> dict[str, int]:
    """{question key: the tree version its current meaning dates from} (Question.since_version)."""
    return dict(Question.objects.filter(project_id=project_id).values_list("key", "since_version"))


def subjects_exported(*, project: Project, include_withdrawn: bool = False) -> QuerySet[Subject]:
    """The subjects an export lists: withdrawn ones only when asked for."""
    subjects = Subject.objects.filter(project=project)
    if include_withdrawn:
        return subjects
    return subjects.exclude(retirement_reason=RetirementReason.WITHDRAWN)


# Subject ids are PostgreSQL bigints: every id is below this.
SUBJECT_ID_LIMIT = 2**63


def subject_id_parse(subject_id: object) -> int:
    """A subject id from JSON (an integer or a string of digits within bigint range)."""
    if isinstance(subject_id, bool) or not isinstance(subject_id, int):
        if isinstance(subject_id, str) and subject_id.isascii() and subject_id.isdigit():
            subject_id = int(subject_id)
        else:
            raise NotFound(
                f"Invalid value for subject: expected a subject id (integer), received {subject_id!r:.40}"
            )
    if not 0 < subject_id < SUBJECT_ID_LIMIT:
        raise NotFound(f"Unknown subject {subject_id}")
    return subject_id


def subject_get_in_project(*, project: Project, subject_id: object) -> Subject:
    subject_id = subject_id_parse(subject_id)
    try:
        return Subject.objects.select_related("retired_by_version").get(
            project=project, pk=subject_id
        )
    except Subject.DoesNotExist:
        raise NotFound(f"Unknown subject {subject_id} in project {project.slug!r}") from None
