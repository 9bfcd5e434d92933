"""A project's team and its end. Every member who sees the staff pages sees the team and the record
of its changes; owners add an existing account by user name or e-mail, change a role, remove a
member (labelling/teams/members.py: the last owner stays). Archiving and deleting the project
are labelling/staff/withdrawal_pages.py's."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core.errors import StarlingError
from labelling.models import Role
from labelling.staff.access import project_page
from labelling.staff.forms import MemberForm
from labelling.teams import members, permissions, team_selectors
from labelling.teams.permissions import Right


@project_page(get=Right.VIEW, post=Right.MEMBERS)
def project_members(request, project):
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added = members.member_add(
                project=project,
                by=request.user,
                name_or_email=form.cleaned_data["name_or_email"],
                role=form.cleaned_data["role"],
            )
        except StarlingError as error:
            form.add_error("name_or_email", error.message)
        else:
            name = added.user.get_username()
            messages.success(request, f"{name} is now a {added.role} of {project.title}.")
            return redirect("staff_members", slug=project.slug)
    context = {
        "project": project,
        "form": form,
        "members": team_selectors.members_list(project=project),
        "changes": team_selectors.team_changes(project=project),
        "roles": Role.choices,
        "rights_table": permissions.rights_table(),
    }
    status = 400 if form.errors else 200
    return render(request, "labelling/dashboard/members.html", context, status=status)


@project_page(post=Right.MEMBERS)
def member_role(request, project, user_id):
    def change() -> str:
        changed = members.member_role_change(
            project=project, by=request.user, user_id=user_id, role=request.POST.get("role", "")
        )
        return f"{changed.user.get_username()} is now a {changed.role} of {project.title}."

    return _team_change(request, project, change)


@project_page(post=Right.MEMBERS)
def member_remove(request, project, user_id):
    def change() -> str:
        removed = members.member_remove(project=project, by=request.user, user_id=user_id)
        return f"{removed.user.get_username()} is no longer a member of {project.title}."

    return _team_change(request, project, change)


def _team_change(request, project, change):
    """Run a change to the team (it returns what it did); say so, or why it could not, on the
    members page."""
    try:
        messages.success(request, change())
    except StarlingError as error:
        messages.error(request, error.message)
    return redirect("staff_members", slug=project.slug)
