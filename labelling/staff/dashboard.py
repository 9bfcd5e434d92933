"""Staff pages: set up a project, watch it, judge the model, take the catalogue away.

Every view goes through `staff_only` (anonymous -> login, volunteers -> 403) and fetches the
project through `staff_project`. The rules live where their concern does: `labelling.core`
(projects, selectors), `labelling.catalogue` (imports, exports), `labelling.loop` (claims,
model_selectors), `labelling.crowd.crowd_selectors`, and `staff_selectors` and `charts` beside this.
"""

import tempfile
from functools import wraps
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labelling.catalogue import exports, imports
from labelling.core import projects, selectors
from labelling.core.errors import StarlingError
from labelling.core.tree import nodes_from_dicts, tree_from_nodes
from labelling.crowd import crowd_selectors
from labelling.loop import claims, model_selectors
from labelling.models import (
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    Project,
)
from labelling.staff import charts, staff_selectors
from labelling.staff.forms import SETTINGS_FIELDS, ProjectForm, UploadForm, tree_as_text
from mlworker import sources
from mlworker.questions import GALAXY_QUESTIONS

# A new project starts from the demo's galaxy tree (its one definition), as text to edit.
DEFAULT_TREE = tree_as_text(tree_from_nodes(nodes_from_dicts(GALAXY_QUESTIONS)))


def staff_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Staff only")
        return view(request, *args, **kwargs)

    return wrapper


def staff_project(slug: str) -> Project:
    return get_object_or_404(Project, slug=slug)


def png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response


@staff_only
def home(request):
    return render(
        request, "labelling/dashboard/home.html", {"projects": selectors.project_list_all()}
    )


@staff_only
def project_new(request):
    # Unpublished until staff publish it, once its images are uploaded.
    form = ProjectForm(
        request.POST or None, initial={"questions": DEFAULT_TREE, "is_published": False}
    )
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS if name != "title"}
        try:
            project = projects.project_create(
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


@staff_only
def project_edit(request, slug):
    project = staff_project(slug)
    initial = {"questions": tree_as_text(selectors.project_tree(project=project))}
    form = ProjectForm(request.POST or None, instance=project, initial=initial)
    form.fields["slug"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            projects.project_update(
                project=project,
                questions=form.cleaned_data["questions"],
                **{name: form.cleaned_data[name] for name in SETTINGS_FIELDS},
            )
        except StarlingError as error:
            form.add_error("questions", error.message)
        else:
            messages.success(request, "Project saved.")
            return redirect("staff_dashboard", slug=project.slug)
    return _project_form_page(request, form, project=project)


def _project_form_page(request, form, **context) -> HttpResponse:
    return render(
        request,
        "labelling/dashboard/project_form.html",
        {"form": form, **context},
        status=400 if form.errors else 200,
    )


@staff_only
def project_upload(request, slug):
    project = staff_project(slug)
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
    }
    return render(
        request, "labelling/dashboard/upload.html", context, status=400 if form.errors else 200
    )


@staff_only
def project_dashboard(request, slug):
    project = staff_project(slug)
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
        },
    )


@staff_only
@require_POST
def project_retrain(request, slug):
    project = staff_project(slug)
    if claims.retrain_request(project=project):
        messages.success(
            request, "Retrain queued: a worker will train, score the pool and pick the next round."
        )
    else:
        messages.warning(request, "A retrain of this project is already queued or running.")
    return redirect("staff_dashboard", slug=project.slug)


@staff_only
def round_view(request, slug):
    project = staff_project(slug)
    latest_round = model_selectors.round_latest(project=project)
    context = {
        "project": project,
        "round": latest_round,
        "picks": model_selectors.round_picks_list(acquisition_round=latest_round),
        "next_subjects": staff_selectors.subjects_next_in_queue(project=project),
    }
    return render(request, "labelling/dashboard/round.html", context)


@staff_only
def subject_list(request, slug):
    project = staff_project(slug)
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


@staff_only
def chart_votes(request, slug):
    window = staff_selectors.votes_per_hour_window()
    rows = staff_selectors.votes_per_hour(project=staff_project(slug), since=window[0])
    return png(
        charts.votes_per_hour(
            [hour for hour, _ in rows], [n for _, n in rows], start=window[0], end=window[1]
        )
    )


@staff_only
def chart_learning(request, slug):
    versions = model_selectors.model_versions_ready(project=staff_project(slug))
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


@staff_only
def chart_calibration(request, slug, number):
    version = get_object_or_404(ModelVersion, project=staff_project(slug), number=number)
    coverage = {
        k: m["coverage"]
        for k, m in version.metrics.items()
        if isinstance(m, dict) and m.get("coverage") and not k.startswith("_")
    }
    return png(charts.calibration(coverage))


@staff_only
def chart_posterior(request, slug, subject_id, number, question):
    project = staff_project(slug)
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


def _csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@staff_only
def export_classifications(request, slug):
    project = staff_project(slug)
    return _csv_response(
        exports.classifications_csv(project=project), f"{project.slug}-classifications.csv"
    )


@staff_only
def export_counts(request, slug):
    project = staff_project(slug)
    return _csv_response(
        exports.vote_counts_csv(project=project), f"{project.slug}-vote-counts.csv"
    )


@staff_only
def export_predictions(request, slug):
    project = staff_project(slug)
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
        exports.predictions_csv(version=version),
        f"{project.slug}-predictions-v{version.number}.csv",
    )


@staff_only
def export_catalogue(request, slug):
    project = staff_project(slug)
    return _csv_response(exports.catalogue_csv(project=project), f"{project.slug}-catalogue.csv")
