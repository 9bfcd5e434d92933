"""Every read that is more than one `.get()`."""

import random
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from labelling.errors import NotFound
from labelling.models import (
    Answer,
    Classification,
    Prediction,
    Project,
    Question,
    RetirementReason,
    RetirementRule,
    Subject,
    SubjectStatus,
    Volunteer,
)
from labelling.tree import AnswerNode, QuestionNode, Tree


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


def subject_next_for_volunteer(
    *,
    project: Project,
    volunteer: Volunteer | None,
    exclude_ids: tuple[int, ...] = (),
    top_few: int = 5,
    rng: random.Random | None = None,
) -> Subject | None:
    """The highest-priority active subject this volunteer has not classified.

    One of the `top_few` best is chosen at random, so that concurrent volunteers spread out.
    `exclude_ids` leaves out subjects the client already holds (the one on screen, the prefetched one).
    """
    candidates = _unclassified(project, volunteer.pk if volunteer else None, exclude_ids)
    best = list(candidates.order_by("-priority", "id")[:top_few])
    if not best:
        return None
    return (rng or random).choice(best)


def subject_id_parse(subject_id: object) -> int:
    """A subject id from JSON (an integer or a string of digits within bigint range)."""
    if isinstance(subject_id, bool) or not isinstance(subject_id, int):
        if isinstance(subject_id, str) and subject_id.isascii() and subject_id.isdigit():
            subject_id = int(subject_id)
        else:
            raise NotFound(
                f"Invalid value for subject: expected a subject id (integer), received {subject_id!r:.40}"
            )
    if not 0 < subject_id < 2**63:
        raise NotFound(f"Unknown subject {subject_id}")
    return subject_id


def subjects_next_for_volunteer(
    *,
    project: Project,
    volunteer_id: int,
    count: int = 1,
    exclude_ids: tuple[int, ...] = (),
    top_few: int = 5,
    rng: random.Random | None = None,
) -> list[dict]:
    """Up to `count` subjects for this volunteer, best first, as {id, image_url}.

    From the project's queue in Redis when it can answer (labelling/queue.py), else from SQL. Either
    way `count` are drawn at random from the best `count + top_few - 1` the volunteer has not
    classified, so that concurrent volunteers spread out.
    """
    from labelling import queue

    rng = rng or random
    wanted = count + top_few - 1
    found = queue.next_subjects(
        project_id=project.pk,
        version=project.serving_version,
        volunteer_id=volunteer_id,
        wanted=wanted,
        exclude_ids=exclude_ids,
    )
    if found is None:
        found = list(
            _unclassified(project, volunteer_id, exclude_ids)
            .order_by("-priority", "id")
            .values_list("id", "image")[:wanted]
        )
    chosen = sorted(rng.sample(range(len(found)), min(count, len(found))))
    return [
        {"id": found[index][0], "image_url": f"{settings.MEDIA_URL}{found[index][1]}"}
        for index in chosen
    ]


def _unclassified(project: Project, volunteer_id: int | None, exclude_ids: tuple[int, ...]):
    """Active subjects of the project that the volunteer (if any) has not classified: the SQL path."""
    candidates = Subject.objects.filter(project=project, status=SubjectStatus.ACTIVE)
    if volunteer_id is not None:
        candidates = candidates.exclude(
            id__in=Classification.objects.filter(volunteer_id=volunteer_id, project=project).values(
                "subject_id"
            )
        )
    if exclude_ids:
        candidates = candidates.exclude(id__in=exclude_ids)
    return candidates


def subject_get_in_project(*, project: Project, subject_id: object) -> Subject:
    subject_id = subject_id_parse(subject_id)
    try:
        return Subject.objects.select_related("retired_by_version").get(
            project=project, pk=subject_id
        )
    except Subject.DoesNotExist:
        raise NotFound(f"Unknown subject {subject_id} in project {project.slug!r}") from None


def subject_recount(*, subject: Subject) -> dict[str, dict[str, int]]:
    """Vote counts rebuilt from the raw classifications (the source of truth)."""
    counts: dict[str, dict[str, int]] = {}
    for annotations in Classification.objects.filter(subject=subject).values_list(
        "annotations", flat=True
    ):
        for question_key, answer_key in annotations.items():
            per_question = counts.setdefault(question_key, {})
            per_question[answer_key] = per_question.get(answer_key, 0) + 1
    return counts


# --- staff ---------------------------------------------------------------------------------------


def project_dashboard_stats(*, project: Project) -> dict:
    """Totals for the dashboard in a handful of aggregate queries, whatever the project's size."""
    from django.db.models import Count, Q, Sum

    by_model = Q(status=SubjectStatus.RETIRED, retirement_reason=RetirementReason.MODEL)
    subjects = Subject.objects.filter(project=project).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=SubjectStatus.ACTIVE)),
        retired=Count("id", filter=Q(status=SubjectStatus.RETIRED)),
        retired_by_model=Count("id", filter=by_model),
        votes_at_model_retirement=Sum("classification_count", filter=by_model),
        votes=Sum("classification_count"),
    )
    # Votes the model-aware rule did not ask for: the limit minus what model-retired subjects had.
    spared = subjects.pop("votes_at_model_retirement") or 0
    subjects["votes_spared"] = subjects["retired_by_model"] * project.retirement_limit - spared
    subjects["retired_at_limit"] = subjects["retired"] - subjects["retired_by_model"]
    volunteers = Classification.objects.filter(project=project).aggregate(
        n=Count("volunteer", distinct=True)
    )["n"]
    votes = subjects["votes"] or 0
    wanted = subjects["total"] * project.retirement_limit
    return {
        **subjects,
        "votes": votes,
        "volunteers": volunteers,
        "retired_share": subjects["retired"] / subjects["total"] if subjects["total"] else 0.0,
        "vote_share": min(1.0, votes / wanted) if wanted else 0.0,
    }


def votes_per_hour_window(*, hours: int = 72, now=None) -> tuple:
    """(start, end) of the votes-per-hour chart: the last `hours` whole hours up to the end of the
    current one."""
    end = (now or timezone.now()).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(hours=hours), end


def votes_per_hour(*, project: Project, since=None) -> list[tuple]:
    """[(hour, classifications)] from `since` (default: the chart's window), by hour."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    since = since or votes_per_hour_window()[0]
    return list(
        Classification.objects.filter(project=project, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
    )


def subjects_for_staff(*, project: Project, status: str | None = None):
    queryset = Subject.objects.filter(project=project).order_by("-priority", "pk")
    if status:
        queryset = queryset.filter(status=status)
    return queryset.only(
        "pk", "image", "status", "classification_count", "priority", "original_name", "project_id"
    )


def subjects_next_in_queue(*, project: Project, count: int = 12):
    return list(
        Subject.objects.filter(project=project, status=SubjectStatus.ACTIVE).order_by(
            "-priority", "pk"
        )[:count]
    )


def subject_prediction_history(*, subject: Subject) -> list[Prediction]:
    """The subject's predictions, newest model version first."""
    return list(
        Prediction.objects.filter(subject=subject)
        .select_related("model_version")
        .order_by("-model_version__number")
    )
