"""Staff page for where a project's next fresh model starts: random weights, a ready version of
another project, or an uploaded Keras file (labelling/staff/start_models.py does the work)."""

from django.contrib import messages
from django.shortcuts import redirect, render

from labelling.core.errors import StarlingError
from labelling.loop.tasks import training_settings
from labelling.staff import start_models
from labelling.staff.access import project_page
from labelling.staff.forms import StartFileForm, StartVersionForm
from labelling.teams import permissions
from labelling.teams.permissions import Right
from mlworker import sources


@project_page(get=Right.EDIT, post=Right.EDIT)
def project_start(request, project):
    # Only versions of projects whose data the account may take away (their exports).
    candidates = start_models.start_candidates(project=project).filter(
        project__in=permissions.projects_with(request.user, Right.EXPORT)
    )
    action = request.POST.get("action") if request.method == "POST" else None
    version_form = StartVersionForm(
        request.POST if action == "version" else None, candidates=candidates
    )
    file_form = StartFileForm(
        request.POST if action == "file" else None, request.FILES if action == "file" else None
    )
    form = {"version": version_form, "file": file_form}.get(action)
    if action == "scratch":
        start_models.start_from_scratch(project=project)
        messages.success(request, "The next fresh model starts from random weights.")
        return redirect("staff_start", slug=project.slug)
    if form is not None and form.is_valid():
        try:
            if action == "version":
                start_models.start_from_version(
                    project=project, version_id=form.cleaned_data["version"].pk
                )
            else:
                start_models.start_from_file(
                    project=project, upload=form.cleaned_data["trunk_file"]
                )
        except StarlingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"The next fresh model starts from {sources.describe(project.start_model)}.",
            )
            return redirect("staff_start", slug=project.slug)
    training = training_settings()
    context = {
        "project": project,
        "start": sources.describe(project.start_model),
        "version_form": version_form,
        "file_form": file_form,
        "has_candidates": candidates.exists(),
        "frozen_epochs": training.frozen_epochs,
        "fine_tune_rate": training.fine_tune_rate,
    }
    failed = form is not None and bool(form.errors)
    return render(request, "labelling/dashboard/start.html", context, status=400 if failed else 200)
