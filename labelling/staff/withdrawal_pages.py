"""Taking things back from the staff pages: withdraw an image (and restore it), archive a project
(and bring it back), delete one after a page that names what will be lost. The rules are
labelling/retirement/withdrawals.py's."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core.errors import StarlingError
from labelling.models import Subject
from labelling.retirement import withdrawals
from labelling.staff.access import project_page
from labelling.teams.permissions import Right


def _subject_change(request, project, subject_id, change, done: str):
    if not Subject.objects.filter(project=project, pk=subject_id).exists():
        messages.error(request, f"Unknown subject {subject_id} in project {project.slug!r}")
        return redirect("staff_subjects", slug=project.slug)
    try:
        change(project=project, subject_id=subject_id)
    except StarlingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("staff_subject", slug=project.slug, subject_id=subject_id)


@project_page(post=Right.EDIT)
def subject_withdraw(request, project, subject_id):
    return _subject_change(
        request,
        project,
        subject_id,
        withdrawals.subject_withdraw,
        f"Subject {subject_id} withdrawn: volunteers will not see it again and its image is no "
        "longer served; its votes are kept, left out of training and of the exports unless they "
        "ask for withdrawn images.",
    )


@project_page(post=Right.EDIT)
def subject_restore(request, project, subject_id):
    return _subject_change(
        request,
        project,
        subject_id,
        withdrawals.subject_restore,
        f"Subject {subject_id} restored: it is shown, trained on and exported again.",
    )


@project_page(post=Right.DELETE)
def project_archive(request, project):
    if request.POST.get("undo"):
        withdrawals.project_unarchive(project=project)
        messages.success(request, f"{project.title} is back on the staff home (still unpublished).")
    else:
        withdrawals.project_archive(project=project)
        messages.success(
            request,
            f"{project.title} archived: unpublished, never retrained by the schedule, off the "
            "staff home's list (Show: archived). Nothing of it was deleted.",
        )
    return redirect("staff_dashboard", slug=project.slug)


@project_page(get=Right.DELETE, post=Right.DELETE)
def project_delete(request, project):
    """GET: what deleting would lose, and the form to confirm by typing the project's address.
    POST: delete it with its files, once the address typed is the project's."""
    typed = request.POST.get("confirm", "")
    if request.method == "POST" and typed == project.slug:
        removed = withdrawals.project_delete_with_files(project=project)
        messages.success(
            request,
            f"Project {project.title} deleted, with its votes, model versions and "
            f"{removed} image file{'' if removed == 1 else 's'}.",
        )
        return redirect("staff_home")
    if request.method == "POST":
        messages.error(
            request,
            f"Nothing deleted: type the project's address {project.slug!r} to confirm "
            f"(received {typed!r:.80})",
        )
        return redirect("staff_delete", slug=project.slug)
    summary = withdrawals.project_deletion_summary(project=project)
    return render(
        request,
        "labelling/dashboard/delete.html",
        {"project": project, "lost": summary.lines()},
    )
