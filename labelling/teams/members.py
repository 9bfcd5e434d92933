"""A project's team: the owner who starts it, members invited by user name or e-mail, their roles
changed, members removed. The last owner can be neither removed nor demoted. Every change is
recorded (MembershipChange: who, what, to whom, when)."""

from django.contrib.auth import get_user_model
from django.db import transaction

from labelling.core import projects
from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.core.tree import QuestionNode
from labelling.models import Membership, MembershipAction, MembershipChange, Project, Role


@transaction.atomic
def project_create_owned(
    *, owner, slug: str, title: str, questions: list[QuestionNode], **settings_values
) -> Project:
    """Create a project (labelling/core/projects.py) with `owner` as its first owner."""
    project = projects.project_create(
        slug=slug, title=title, questions=questions, **settings_values
    )
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    _record(project, owner, owner, MembershipAction.CREATED, "", Role.OWNER)
    return project


def account_find(*, name_or_email: str):
    """The account with this user name, else the one with this e-mail (either case). NotFound when
    none; InvalidInput when several accounts share the e-mail."""
    name_or_email = name_or_email.strip()
    users = get_user_model().objects.filter(is_active=True)
    named = list(users.filter(username__iexact=name_or_email)[:2])
    exact = [user for user in named if user.username == name_or_email]
    user = exact[0] if exact else named[0] if len(named) == 1 else None
    if user is not None or "@" not in name_or_email:
        if user is None:
            raise NotFound(
                f"No account with the user name {name_or_email!r}: they sign up first "
                "(/accounts/signup/), then you add them"
            )
        return user
    found = list(users.filter(email__iexact=name_or_email)[:2])
    if not found:
        raise NotFound(
            f"No account with the e-mail {name_or_email!r}: they sign up first "
            "(/accounts/signup/), then you add them"
        )
    if len(found) > 1:
        raise InvalidInput(
            f"Several accounts use the e-mail {name_or_email!r}: add the member by user name"
        )
    return found[0]


def _role(role: str) -> Role:
    if role not in Role.values:
        raise InvalidInput(
            f"Invalid value for role: expected one of {', '.join(Role.values)}, received {role!r:.40}"
        )
    return Role(role)


@transaction.atomic
def member_add(*, project: Project, by, name_or_email: str, role: str) -> Membership:
    role = _role(role)
    user = account_find(name_or_email=name_or_email)
    _lock_team(project)
    existing = Membership.objects.filter(project=project, user=user).first()
    if existing is not None:
        raise Conflict(
            f"{user.get_username()} is already a {existing.get_role_display()} of "
            f"{project.title!r}: change their role in the list"
        )
    membership = Membership.objects.create(project=project, user=user, role=role)
    _record(project, by, user, MembershipAction.ADDED, "", role)
    return membership


@transaction.atomic
def member_role_change(*, project: Project, by, user_id: int, role: str) -> Membership:
    role = _role(role)
    _lock_team(project)
    membership = _membership(project, user_id)
    if membership.role == role:
        return membership
    if membership.role == Role.OWNER:
        _refuse_last_owner(project, membership, "made a " + role.label)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _record(project, by, membership.user, MembershipAction.ROLE_CHANGED, before, role)
    return membership


@transaction.atomic
def member_remove(*, project: Project, by, user_id: int) -> Membership:
    """Remove a member; returns the membership as it was."""
    _lock_team(project)
    membership = _membership(project, user_id)
    if membership.role == Role.OWNER:
        _refuse_last_owner(project, membership, "removed")
    membership.delete()
    _record(project, by, membership.user, MembershipAction.REMOVED, membership.role, "")
    return membership


def _lock_team(project: Project) -> None:
    """Team changes of one project run one at a time (the last-owner rule reads the whole team)."""
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk").first()


def _membership(project: Project, user_id: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(project=project, user_id=user_id)
    found = membership.first()
    if found is None:
        raise NotFound(f"Account {user_id} is not a member of {project.title!r}")
    return found


def _refuse_last_owner(project: Project, membership: Membership, change: str) -> None:
    others = Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=membership.pk)
    if not others.exists():
        raise Conflict(
            f"{membership.user.get_username()} is the last owner of {project.title!r} and cannot "
            f"be {change}: make another member an owner first"
        )


def _record(project, by, member, action, before, after) -> None:
    MembershipChange.objects.create(
        project=project,
        by=by,
        by_name=by.get_username() if by is not None else "",
        member=member,
        member_name=member.get_username(),
        action=action,
        role_before=before,
        role_after=after,
    )
