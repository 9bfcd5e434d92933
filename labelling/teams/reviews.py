"""Going public: with STARLING_PROJECT_REVIEW on (the default), a project's owner asks for review
and a site administrator approves it (the project is published at once) or declines it with a
reason the owner reads on the project's review page. Once approved, the team may unpublish and
publish it again from its settings. With the setting off, the team publishes it from its settings.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from labelling.core import projects
from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.models import Project, ProjectReview, ReviewStatus

REASON_MAX_LENGTH = 2000


def review_required() -> bool:
    return settings.STARLING_PROJECT_REVIEW


def project_approved(*, project: Project) -> bool:
    return ProjectReview.objects.filter(project=project, status=ReviewStatus.APPROVED).exists()


def publish_refusal(*, project: Project, administrator: bool) -> str | None:
    """Why the team may not publish the project from its settings now (it waits for a site
    administrator's approval), else None. Images are labelling.core.projects' concern."""
    if not review_required() or administrator or project.is_published:
        return None
    if project_approved(project=project):
        return None
    return (
        "A site administrator approves a project before it goes public: its owner asks for a "
        "review on the project's Review page"
    )


@transaction.atomic
def review_request(*, project: Project, by, note: str = "") -> ProjectReview:
    """An owner's request for review. Refused when review is switched off, the project is public
    or approved already, has no images, or a request is waiting."""
    if not review_required():
        raise InvalidInput(
            "Projects on this site go public without review (STARLING_PROJECT_REVIEW=false): "
            "publish it from its settings"
        )
    if project.is_published or project_approved(project=project):
        raise Conflict(
            f"{project.title!r} is approved already: publish or unpublish it from its settings"
        )
    problem = projects.project_publish_problem(project=project)
    if problem:
        raise InvalidInput(problem)
    if ProjectReview.objects.filter(project=project, status=ReviewStatus.PENDING).exists():
        raise Conflict(f"A review of {project.title!r} was asked for already and is waiting")
    return ProjectReview.objects.create(
        project=project, requested_by=by, note=note.strip()[:REASON_MAX_LENGTH]
    )


@transaction.atomic
def review_decide(*, review_id: int, by, approve: bool, reason: str = "") -> ProjectReview:
    """A site administrator's decision. Approving publishes the project; declining needs a
    reason, which the owner reads."""
    review = (
        ProjectReview.objects.select_for_update().select_related("project").filter(pk=review_id)
    ).first()
    if review is None:
        raise NotFound(f"No review request {review_id}")
    if review.status != ReviewStatus.PENDING:
        raise Conflict(f"Review request {review_id} was {review.status} already")
    reason = reason.strip()[:REASON_MAX_LENGTH]
    if not approve and not reason:
        raise InvalidInput(
            "A declined review needs a reason: the owner reads it to fix the project"
        )
    if approve:
        problem = projects.project_publish_problem(project=review.project)
        if problem:
            raise InvalidInput(problem)
        review.project.is_published = True
        review.project.save(update_fields=["is_published"])
    review.status = ReviewStatus.APPROVED if approve else ReviewStatus.DECLINED
    review.decided_by, review.decided_at, review.reason = by, timezone.now(), reason
    review.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    return review


@transaction.atomic
def review_record_administrator_publish(*, project: Project, by) -> None:
    """A site administrator published an unapproved project from its settings: that is their
    approval, recorded as one (a waiting request is approved with it)."""
    if not review_required() or project_approved(project=project):
        return
    reason = "Published from the settings by a site administrator."
    updated = ProjectReview.objects.filter(project=project, status=ReviewStatus.PENDING).update(
        status=ReviewStatus.APPROVED, decided_by=by, decided_at=timezone.now(), reason=reason
    )
    if not updated:
        ProjectReview.objects.create(
            project=project,
            requested_by=by,
            status=ReviewStatus.APPROVED,
            decided_by=by,
            decided_at=timezone.now(),
            reason=reason,
        )


def reviews_pending() -> QuerySet[ProjectReview]:
    return (
        ProjectReview.objects.filter(status=ReviewStatus.PENDING)
        .select_related("project", "requested_by")
        .order_by("requested_at")
    )


def reviews_decided(*, limit: int = 20) -> QuerySet[ProjectReview]:
    return (
        ProjectReview.objects.exclude(status=ReviewStatus.PENDING)
        .select_related("project", "requested_by", "decided_by")
        .order_by("-decided_at", "-id")[:limit]
    )


def project_reviews(*, project: Project) -> QuerySet[ProjectReview]:
    return ProjectReview.objects.filter(project=project).select_related(
        "requested_by", "decided_by"
    )
