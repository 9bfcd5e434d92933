"""Reads for the volunteers' pages: the home page's project cards, the field guide, a volunteer's
own contributions. (The classify page's reads are labelling/core's.)"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from labelling.core.tree import Tree
from labelling.models import (
    ROUND_PRIORITY_BASE,
    Classification,
    FieldGuideExample,
    Project,
    RetirementReason,
    Subject,
    SubjectStatus,
    Volunteer,
)

logger = logging.getLogger(__name__)
CARDS_CACHE_KEY = "starling:project-cards"
CARDS_CACHE_SECONDS = 30


@receiver(post_save, sender=Project)
@receiver(post_delete, sender=Project)
def _project_changed(sender, **kwargs) -> None:
    """A project published (its review approved), unpublished, renamed or deleted: the home page
    shows it at once, not after the cards' cache expires."""
    try:
        cache.delete(CARDS_CACHE_KEY)
    except Exception:  # a cache that is down must not fail the save; the cards expire anyway
        logger.warning("could not drop the cached project cards", exc_info=True)


def project_cards() -> list[dict]:
    """Each published project as the home page shows it: {slug, title, description, image_url
    (its first field guide example, else its first subject; None without subjects), subjects,
    retired, retired_share, votes, asking (active subjects among the model's current picks)}.
    Three queries whatever the number of subjects, cached for CARDS_CACHE_SECONDS."""
    return cache.get_or_set(CARDS_CACHE_KEY, _project_cards, CARDS_CACHE_SECONDS)


def _project_cards() -> list[dict]:
    shown = ~Q(subject__retirement_reason=RetirementReason.WITHDRAWN)
    first_example = FieldGuideExample.objects.filter(shown, project=OuterRef("pk")).order_by(
        "question_key", "answer_key", "position"
    )
    first_subject = (
        Subject.objects.filter(project=OuterRef("pk"))
        .exclude(retirement_reason=RetirementReason.WITHDRAWN)
        .order_by("pk")
    )
    projects = list(
        Project.objects.filter(is_published=True)
        .order_by("title")
        .annotate(
            example_image=Coalesce(
                Subquery(first_example.values("subject__image")[:1]),
                Subquery(first_subject.values("image")[:1]),
            )
        )
    )
    totals = {
        row["project_id"]: row
        for row in Subject.objects.filter(project__in=projects)
        .values("project_id")
        .annotate(
            subjects=Count("id"),
            retired=Count("id", filter=Q(status=SubjectStatus.RETIRED)),
            votes=Sum("classification_count"),
            asking=Count(
                "id",
                filter=Q(status=SubjectStatus.ACTIVE, priority__gte=ROUND_PRIORITY_BASE),
            ),
        )
    }
    cards = []
    for project in projects:
        row = totals.get(project.pk, {})
        subjects = row.get("subjects", 0)
        cards.append(
            {
                "slug": project.slug,
                "title": project.title,
                "description": project.description,
                "image_alt_text": project.image_alt_text,
                "image_url": (
                    f"{settings.MEDIA_URL}{project.example_image}"
                    if project.example_image
                    else None
                ),
                "subjects": subjects,
                "retired": row.get("retired", 0),
                "retired_share": row.get("retired", 0) / subjects if subjects else 0.0,
                "votes": row.get("votes") or 0,
                "asking": row.get("asking", 0),
            }
        )
    return cards


def field_guide(*, project: Project, tree: Tree) -> list[dict]:
    """The tree's questions in order, each answer with its example images:
    [{key, text, answers: [{key, text, shortcut, examples: [{id, image_url}]}]}]."""
    examples: dict[tuple[str, str], list[dict]] = {}
    for example in (
        FieldGuideExample.objects.filter(project=project)
        .exclude(subject__retirement_reason=RetirementReason.WITHDRAWN)
        .select_related("subject")
        .order_by("question_key", "answer_key", "position")
    ):
        examples.setdefault((example.question_key, example.answer_key), []).append(
            {"id": example.subject_id, "image_url": example.subject.image_url}
        )
    return [
        {
            "key": key,
            "text": tree.questions[key].text,
            "answers": [
                {
                    "key": answer.key,
                    "text": answer.text,
                    "shortcut": answer.shortcut,
                    "examples": examples.get((key, answer.key), []),
                }
                for answer in tree.questions[key].answers
            ],
        }
        for key in tree.ordered_keys()
    ]


def field_guide_example_ids(*, project: Project) -> dict[tuple[str, str], list[int]]:
    """{(question key, answer key): [subject id, ...]} in display order."""
    chosen: dict[tuple[str, str], list[int]] = {}
    for question_key, answer_key, subject_id in (
        FieldGuideExample.objects.filter(project=project)
        .order_by("question_key", "answer_key", "position")
        .values_list("question_key", "answer_key", "subject_id")
    ):
        chosen.setdefault((question_key, answer_key), []).append(subject_id)
    return chosen


def volunteer_contributions(*, volunteer_id: int | None) -> list[dict]:
    """The volunteer's classifications per project, and how many of them were of subjects the
    model had asked for: [{slug, title, is_published, classifications, requested}] by title."""
    if volunteer_id is None:
        return []
    rows = (
        Classification.objects.filter(volunteer_id=volunteer_id)
        .values("project__slug", "project__title", "project__is_published")
        .annotate(
            classifications=Count("id"),
            requested=Count("id", filter=Q(requested_by_model=True)),
        )
        .order_by("project__title")
    )
    return [
        {
            "slug": row["project__slug"],
            "title": row["project__title"],
            "is_published": row["project__is_published"],
            "classifications": row["classifications"],
            "requested": row["requested"],
        }
        for row in rows
    ]


def volunteer_id_for_user(*, user_id: int) -> int | None:
    """The id of the account's volunteer, if it has one."""
    return Volunteer.objects.filter(user_id=user_id).values_list("pk", flat=True).first()


def image_withdrawn(*, path: str) -> bool:
    """Whether the media file `path` is a subject's image that only withdrawn subjects hold."""
    holders = Subject.objects.filter(image=path)
    return (
        holders.exists()
        and not holders.exclude(retirement_reason=RetirementReason.WITHDRAWN).exists()
    )
