"""The one answer to "may this account do this to this project".

A project's team is its Membership rows, one role each, and each role may do everything the next
one may: owner > collaborator > researcher > tester. Site administrators (superusers) act as
owners of every project. Every staff view names the right it needs for each method it answers
(labelling/staff/access.py asks `project_for`); the volunteer pages ask `may` before showing an
unpublished project (a tester's classify page). Nothing else decides access.
"""

from enum import StrEnum

from django.conf import settings
from django.db.models import QuerySet

from labelling.core.errors import Forbidden, NotFound
from labelling.models import Membership, Project, Role


class Right(StrEnum):
    PREVIEW = "preview"  # the preview, and the classify page of an unpublished project
    VIEW = "view"  # the dashboard, its charts, the round, subjects, volunteers, team, review
    EXPORT = "export"  # every CSV export
    EDIT = "edit"  # settings, question tree, images (upload, withdraw) and manifest, guide, start
    RETRAIN = "retrain"
    EXCLUDE = "exclude"  # excluding a volunteer's votes, and lifting it
    MEMBERS = "members"  # inviting, changing a role, removing a member
    REVIEW = "review"  # asking a site administrator to let the project go public
    DELETE = "delete"  # archiving (and bringing back), deleting


# Lowest role first: a role may do what every role before it may.
ROLES = [Role.TESTER, Role.RESEARCHER, Role.COLLABORATOR, Role.OWNER]

# The least role each right needs.
NEEDS: dict[Right, Role] = {
    Right.PREVIEW: Role.TESTER,
    Right.VIEW: Role.RESEARCHER,
    Right.EXPORT: Role.RESEARCHER,
    Right.EDIT: Role.COLLABORATOR,
    Right.RETRAIN: Role.COLLABORATOR,
    Right.EXCLUDE: Role.COLLABORATOR,
    Right.MEMBERS: Role.OWNER,
    Right.REVIEW: Role.OWNER,
    Right.DELETE: Role.OWNER,
}

# What a right lets one do, as a refusal says it.
DOING = {
    Right.PREVIEW: "preview",
    Right.VIEW: "see the staff pages of",
    Right.EXPORT: "download the exports of",
    Right.EDIT: "change the settings, questions, images, guide or starting model of",
    Right.RETRAIN: "retrain",
    Right.EXCLUDE: "exclude volunteers from",
    Right.MEMBERS: "change the team of",
    Right.REVIEW: "ask for a review of",
    Right.DELETE: "archive or delete",
}

# Each right in a word or few, for the members page's table of roles.
LABELS = {
    Right.PREVIEW: "Preview; classify while unpublished",
    Right.VIEW: "Dashboard, subjects, round, volunteers, team",
    Right.EXPORT: "Every export (catalogue, votes, predictions)",
    Right.EDIT: "Settings, questions, images and manifest, guide, starting model",
    Right.RETRAIN: "Retrain",
    Right.EXCLUDE: "Exclude volunteers",
    Right.MEMBERS: "Add, change and remove members",
    Right.REVIEW: "Ask for review",
    Right.DELETE: "Archive or delete the project",
}

CREATORS_ANYONE = "anyone"
CREATORS_ADMINISTRATORS = "administrators"


def is_site_administrator(user) -> bool:
    return bool(user.is_authenticated and user.is_superuser)


def role_of(user, project: Project) -> Role | None:
    """The account's role in the project (owner for a site administrator), None: not a member."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.OWNER
    role = (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )
    return Role(role) if role else None


def role_may(role: Role | None, right: Right) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(NEEDS[right])


def rights_of(role: Role | None) -> dict[str, bool]:
    """{right: whether the role has it}, for the pages to show only what the account may use."""
    return {right.value: role_may(role, right) for right in Right}


def rights_table() -> list[tuple[str, list[bool]]]:
    """[(right's label, [whether each role has it, owner first])], for the members page."""
    return [(LABELS[right], [role_may(role, right) for role in reversed(ROLES)]) for right in Right]


def may(user, project: Project, right: Right) -> bool:
    return role_may(role_of(user, project), right)


def project_for(user, slug: str, right: Right) -> tuple[Project, Role]:
    """The project and the account's role in it when the role has `right`. NotFound for an
    unknown project and for one the account is not a member of (its existence stays unrevealed);
    Forbidden, naming the role needed, for a member without the right."""
    project = Project.objects.filter(slug=slug).first()
    role = role_of(user, project) if project is not None else None
    if role is None:
        raise NotFound(f"Unknown project {slug!r}")
    if not role_may(role, right):
        raise Forbidden(refusal(project, role, right))
    return project, role


def refusal(project: Project, role: Role, right: Right) -> str:
    needed = NEEDS[right]
    above = [later.label for later in ROLES[ROLES.index(needed) + 1 :]]
    alternatives = f" (or {' or '.join(above)})" if above else ""
    return (
        f"To {DOING[right]} {project.title!r} you need the {needed.label} role{alternatives}; "
        f"you are a {role.label} of it. Ask one of its owners."
    )


def projects_with(user, right: Right) -> QuerySet[Project]:
    """The projects in which the account has `right` (every project for a site administrator)."""
    if is_site_administrator(user):
        return Project.objects.all()
    if not user.is_authenticated:
        return Project.objects.none()
    roles = [role for role in ROLES if role_may(role, right)]
    return Project.objects.filter(memberships__user=user, memberships__role__in=roles)


def creation_refusal(user) -> str | None:
    """Why the account may not start a project here (STARLING_PROJECT_CREATORS), else None."""
    if settings.STARLING_PROJECT_CREATORS == CREATORS_ANYONE or is_site_administrator(user):
        return None
    return (
        "Only site administrators start projects on this site "
        f"(STARLING_PROJECT_CREATORS={settings.STARLING_PROJECT_CREATORS}): ask one to start it "
        "and make you its owner."
    )


def review_refusal(user) -> str | None:
    """Why the account may not decide review requests (site administrators do), else None."""
    if is_site_administrator(user):
        return None
    return "Only site administrators approve or decline projects going public."
