"""The volunteers staff should look at: the least reliable first, with the evidence the last round
weighed (agreement per question, votes, sessions from one address), and the exclusions staff made
(who, when, why; lifting one is recorded too). Excluding stops a volunteer's votes counting at once."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core.errors import StarlingError
from labelling.crowd import crowd_selectors, exclusions
from labelling.models import VolunteerExclusion
from labelling.staff.access import project_page
from labelling.teams.permissions import Right
from mlworker.reliability import FLAG_BELOW

LISTED = 50


@project_page(get=Right.VIEW)
def volunteer_list(request, project):
    excluded = crowd_selectors.excluded_volunteer_ids(project=project)
    rows = crowd_selectors.least_reliable(project=project, limit=LISTED)
    return render(
        request,
        "labelling/dashboard/volunteers.html",
        {
            "project": project,
            "rows": [(row, row.volunteer_id in excluded) for row in rows],
            "flag_below": FLAG_BELOW,
            "history": VolunteerExclusion.objects.filter(project=project)
            .select_related("excluded_by", "lifted_by")
            .order_by("-excluded_at")[:LISTED],
        },
    )


@project_page(post=Right.EXCLUDE)
def volunteer_exclude(request, project, volunteer_id):
    return _standing_change(
        request,
        project,
        lambda: exclusions.volunteer_exclude(
            project=project,
            volunteer_id=volunteer_id,
            by=request.user,
            reason=request.POST.get("reason", ""),
        ),
        f"Volunteer {volunteer_id} excluded: their votes no longer count.",
    )


@project_page(post=Right.EXCLUDE)
def volunteer_lift(request, project, volunteer_id):
    return _standing_change(
        request,
        project,
        lambda: exclusions.volunteer_exclusion_lift(
            project=project, volunteer_id=volunteer_id, by=request.user
        ),
        f"Volunteer {volunteer_id}'s votes count again.",
    )


def _standing_change(request, project, change, done: str):
    """Run an exclusion or a lift; say what happened, or why it could not, on the list."""
    try:
        change()
        messages.success(request, done)
    except StarlingError as error:
        messages.error(request, str(error))
    return redirect("staff_volunteers", slug=project.slug)
