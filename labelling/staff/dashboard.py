"""Staff pages: set up a project, watch it, judge the model, take the catalogue away.

Every view names the right it needs in its project for each method (labelling/staff/access.py;
labelling/teams/permissions.py answers). The rules live where their concern does: `labelling.core`
(projects, selectors), `labelling.catalogue` (imports, exports), `labelling.loop` (claims,
model_selectors), `labelling.crowd.crowd_selectors`, `labelling.teams` (members, reviews), and
`staff_selectors` and `charts` beside this.
"""

import tempfile
from pathlib import Path

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from labelling.catalogue import exports, imports
from labelling.core import projects, selectors, tree_changes
from labelling.core.errors import StarlingError
from labelling.core.tree import nodes_from_dicts, tree_from_nodes
from labelling.crowd import crowd_selectors
from labelling.loop import claims, model_selectors
from labelling.models import ModelVersion, ModelVersionStatus, Prediction
from labelling.staff import charts, staff_selectors
from labelling.staff.access import any_account, project_page, site_page
from labelling.staff.forms import SETTINGS_FIELDS, ProjectForm, UploadForm, tree_as_text
from labelling.teams import members, permissions, reviews, team_selectors
from labelling.teams.permissions import Right
from mlworker import sources
from mlworker.questions import GALAXY_QUESTIONS

# A new project starts from the demo's galaxy tree (its one definition), as text to edit.
DEFAULT_TREE = tree_as_text(tree_from_nodes(nodes_from_dicts(GALAXY_QUESTIONS)))


def png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response


@site_page(get=any_account)
def home(request):
    """The account's projects; a site administrator's: every project, filtered by `?show=`."""
    show = request.GET.get("show")
    try:
        listed = team_selectors.staff_home_projects(user=request.user, show=show)
    except StarlingError as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    context = {
        "projects": listed,
        "show": show or "all",
        "filters": team_selectors.HOME_FILTERS,
        "may_create": permissions.creation_refusal(request.user) is None,
        "waiting": reviews.reviews_pending().count() if request.user.is_superuser else 0,
    }
    return render(request, "labelling/dashboard/home.html", context)


@site_page(get=permissions.creation_refusal, post=permissions.creation_refusal)
def project_new(request):
    """Anyone the site lets start a project (STARLING_PROJECT_CREATORS) becomes its owner. It is
    unpublished until its team publishes it, once its images are uploaded (and approved)."""
    form = ProjectForm(
        request.POST or None, initial={"questions": DEFAULT_TREE, "is_published": False}
    )
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS if name != "title"}
        try:
            project = members.project_create_owned(
                owner=request.user,
                slug=form.cleaned_data["slug"],
                title=form.cleaned_data["title"],
                questions=form.cleaned_data["questions"],
                **values,
            )
        except StarlingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Project {project.title} created. Now upload its images.")
            return redirect("staff_upload", slug=project.slug)
    return _project_form_page(request, form, creating=True)


@project_page(get=Right.EDIT, post=Right.EDIT)
def project_edit(request, project):
    initial = {"questions": tree_as_text(selectors.project_tree(project=project))}
    administrator = permissions.is_site_administrator(request.user)
    form = ProjectForm(
        request.POST or None,
        instance=project,
        initial=initial,
        publish_refusal=reviews.publish_refusal(project=project, administrator=administrator),
    )
    form.fields["slug"].disabled = True
    was_published = project.is_published
    history = {
        "tree_changes": tree_changes.tree_changes_list(project=project),
        "has_votes": selectors.project_has_votes(project=project),
    }
    if request.method == "POST" and form.is_valid():
        try:
            projects.project_update(
                project=project,
                questions=form.cleaned_data["questions"],
                by=request.user,
                **{name: form.cleaned_data[name] for name in SETTINGS_FIELDS},
            )
        except StarlingError as error:
            form.add_error("questions", error.message)
        else:
            if project.is_published and not was_published and administrator:
                reviews.review_record_administrator_publish(project=project, by=request.user)
            messages.success(request, "Project saved.")
            return redirect("staff_dashboard", slug=project.slug)
    return _project_form_page(request, form, project=project, **history)


def _project_form_page(request, form, **context) -> HttpResponse:
    return render(
        request,
        "labelling/dashboard/project_form.html",
        {"form": form, **context},
        status=400 if form.errors else 200,
    )


@project_page(get=Right.EDIT, post=Right.EDIT)
def project_upload(request, project):
    form = UploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "upload.zip"
            with open(path, "wb") as handle:
                for chunk in form.cleaned_data["archive"].chunks():
                    handle.write(chunk)
            try:
                manifest = form.cleaned_data.get("manifest")
                report = imports.subjects_import_path(
                    project=project,
                    path=path,
                    name=form.cleaned_data["archive"].name,
                    manifest=(manifest.name, manifest.read()) if manifest else None,
                )
            except StarlingError as error:
                form.add_error("archive", error.message)
    context = {
        "project": project,
        "form": form,
        "report": report,
        "imported": sum(line.ok for line in report or []),
        "files": sum(line.manifest_line is None for line in report or []),
        "refused": [line for line in report or [] if not line.ok],
        "refused_files": sum(not line.ok and line.manifest_line is None for line in report or []),
        "manifest_refusals": sum(line.manifest_line is not None for line in report or []),
    }
    return render(
        request, "labelling/dashboard/upload.html", context, status=400 if form.errors else 200
    )


@project_page(get=Right.VIEW)
def project_dashboard(request, project):
    versions = model_selectors.model_versions_recent(project=project)
    latest_round = model_selectors.round_latest(project=project)
    return render(
        request,
        "labelling/dashboard/project.html",
        {
            "project": project,
            "stats": staff_selectors.project_dashboard_stats(project=project),
            "versions": versions,
            "questions": selectors.project_tree(project=project).ordered_keys(),
            "jobs": [v for v in versions if v.status == ModelVersionStatus.TRAINING],
            "latest_round": latest_round,
            "ready_versions": [v for v in versions if v.status == ModelVersionStatus.READY],
            "start_model": sources.describe(project.start_model),
            "crowd": crowd_selectors.standing_summary(project=project),
            "owners": team_selectors.owner_names(project=project),
            "latest_review": reviews.project_reviews(project=project).first(),
            "first_model": staff_selectors.first_model_progress(project=project),
            "tree_changes": tree_changes.tree_changes_list(project=project, limit=5),
        },
    )


@project_page(post=Right.RETRAIN)
def project_retrain(request, project):
    if claims.retrain_request(project=project):
        messages.success(
            request, "Retrain queued: a worker will train, score the pool and pick the next round."
        )
    else:
        messages.warning(request, "A retrain of this project is already queued or running.")
    return redirect("staff_dashboard", slug=project.slug)


@project_page(get=Right.VIEW)
def round_view(request, project):
    latest_round = model_selectors.round_latest(project=project)
    context = {
        "project": project,
        "round": latest_round,
        "picks": model_selectors.round_picks_list(acquisition_round=latest_round),
        "next_subjects": staff_selectors.subjects_next_described(
            project=project, acquisition_round=latest_round
        ),
    }
    return render(request, "labelling/dashboard/round.html", context)


@project_page(get=Right.VIEW)
def subject_list(request, project):
    status = request.GET.get("status") or None
    if status not in (None, "active", "retired"):
        return HttpResponse(
            f"Invalid value for status: expected active or retired, received {status!r}", status=400
        )
    search = request.GET.get("q", "").strip()[:200]
    page = Paginator(
        staff_selectors.subjects_for_staff(project=project, status=status, search=search), 60
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "labelling/dashboard/subjects.html",
        {"project": project, "page": page, "status": status or "", "search": search},
    )


@project_page(get=Right.VIEW)
def chart_votes(request, project):
    window = staff_selectors.votes_per_hour_window()
    rows = staff_selectors.votes_per_hour(project=project, since=window[0])
    return png(
        charts.votes_per_hour(
            [hour for hour, _ in rows], [n for _, n in rows], start=window[0], end=window[1]
        )
    )


@project_page(get=Right.VIEW)
def chart_learning(request, project):
    versions = model_selectors.model_versions_ready(project=project)
    return png(
        charts.versions_against_baseline(
            [
                {
                    "number": v.number,
                    "training_set_size": v.training_set_size,
                    "nll": v.held_out_summary.get("nll"),
                    "baseline_nll": v.held_out_summary.get("baseline_nll"),
                    "difference_se": v.held_out_summary.get("difference_se"),
                }
                for v in versions
            ]
        )
    )


@project_page(get=Right.VIEW)
def chart_calibration(request, project, number):
    version = get_object_or_404(ModelVersion, project=project, number=number)
    coverage = {
        k: m["coverage"]
        for k, m in version.metrics.items()
        if isinstance(m, dict) and m.get("coverage") and not k.startswith("_")
    }
    return png(charts.calibration(coverage))


@project_page(get=Right.VIEW)
def chart_posterior(request, project, subject_id, number, question):
    prediction = get_object_or_404(
        Prediction, subject_id=subject_id, subject__project=project, model_version__number=number
    )
    samples = prediction.samples.get(question)
    if not samples:
        raise Http404(f"No samples for question {question!r}")
    counts = prediction.subject.vote_counts.get(question, {})
    total = sum(counts.values())
    first_answer = selectors.project_tree(project=project).questions[question].answers[0]
    expected = prediction.per_question.get(question, {}).get(
        "expected_votes", project.retirement_limit
    )
    votes = total if total else max(1, round(expected))
    title = f"{question}: '{first_answer.text}', model v{number}"
    return png(
        charts.vote_posterior(
            samples, votes, counts.get(first_answer.key, 0) if total else None, title
        )
    )


def _withdrawn_asked(request) -> bool:
    """`?withdrawn=include`: an export lists withdrawn subjects too (left out otherwise)."""
    return request.GET.get("withdrawn") == "include"


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@project_page(get=Right.EXPORT)
def export_classifications(request, project):
    return _csv_response(
        exports.classifications_csv(project=project, include_withdrawn=_withdrawn_asked(request)),
        f"{project.slug}-classifications.csv",
    )


@project_page(get=Right.EXPORT)
def export_counts(request, project):
    return _csv_response(
        exports.vote_counts_csv(project=project, include_withdrawn=_withdrawn_asked(request)),
        f"{project.slug}-vote-counts.csv",
    )


@project_page(get=Right.EXPORT)
def export_predictions(request, project):
    number = request.GET.get("version", "")
    if number and not number.isdigit():
        return HttpResponse(
            f"Invalid value for version: expected a version number, received {number!r}",
            status=400,
        )
    version = model_selectors.model_version_get_ready(
        project=project, number=int(number) if number else None
    )
    if version is None:
        return HttpResponse(
            f"No ready model version {number or ''} in project {project.slug!r}", status=404
        )
    missing = exports.predictions_missing_reason(version=version)
    if missing:
        return HttpResponse(missing, status=404, content_type="text/plain; charset=utf-8")
    return _csv_response(
        exports.predictions_csv(version=version, include_withdrawn=_withdrawn_asked(request)),
        f"{project.slug}-predictions-v{version.number}.csv",
    )


@project_page(get=Right.EXPORT)
def export_catalogue(request, project):
    return _csv_response(
        exports.catalogue_csv(project=project, include_withdrawn=_withdrawn_asked(request)),
        f"{project.slug}-catalogue.csv",
    )
