"""Reads about teams: a project's members and the record of changes, its owners, and the projects
the staff home lists for an account."""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from labelling.core.errors import InvalidInput
from labelling.models import (
    Membership,
    MembershipChange,
    Project,
    ProjectReview,
    ReviewStatus,
    Role,
)
from labelling.teams import permissions

# What a site administrator's staff home may list (`?show=`): every project, their own, or those
# waiting for review.
HOME_FILTERS = {
    "all": "All projects",
    "mine": "My projects",
    "waiting": "Waiting for review",
    "archived": "Archived projects",
}


def members_list(*, project: Project) -> list[Membership]:
    """The team, owners first, then by user name."""
    order = {role: position for position, role in enumerate(Role.values)}
    members = Membership.objects.filter(project=project).select_related("user")
    return sorted(members, key=lambda m: (order[m.role], m.user.get_username().lower()))


def team_changes(*, project: Project, limit: int = 100) -> QuerySet[MembershipChange]:
    return MembershipChange.objects.filter(project=project)[:limit]


def owner_names(*, project: Project) -> list[str]:
    return sorted(
        Membership.objects.filter(project=project, role=Role.OWNER).values_list(
            "user__username", flat=True
        )
    )


def staff_home_projects(*, user, show: str | None) -> QuerySet[Project]:
    """The projects the account is a member of; a site administrator's: every project (`show`
    "all", the default), their own ("mine") or those waiting for review ("waiting"). Each with
    `my_role` (None: not a member), `waiting` (a review request is open) and `owners`. Archived
    projects only under "archived" (for every account), and only there."""
    if show not in (None, "", *HOME_FILTERS):
        raise InvalidInput(
            f"Invalid value for show: expected one of {', '.join(HOME_FILTERS)}, received "
            f"{show!r:.40}"
        )
    projects = _home_projects(user, show).filter(archived_at__isnull=show != "archived")
    mine = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    waiting = ProjectReview.objects.filter(project=OuterRef("pk"), status=ReviewStatus.PENDING)
    owners = Membership.objects.filter(role=Role.OWNER).select_related("user").order_by("user")
    return (
        projects.annotate(my_role=Subquery(mine), waiting=Exists(waiting))
        .prefetch_related(Prefetch("memberships", queryset=owners, to_attr="owners"))
        .order_by("title")
    )


def _home_projects(user, show: str | None) -> QuerySet[Project]:
    if not permissions.is_site_administrator(user) or show in ("mine",):
        return Project.objects.filter(memberships__user=user)
    if show == "waiting":
        return Project.objects.filter(reviews__status=ReviewStatus.PENDING)
    return Project.objects.all()
