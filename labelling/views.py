"""Volunteer pages: the project list and the classify page (its JavaScript talks to api.py)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from labelling import selectors
from labelling.errors import NotFound


def project_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "labelling/project_list.html",
        {"projects": selectors.project_list_published()},
    )


@ensure_csrf_cookie
def classify(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        project = selectors.project_get_by_slug(slug=slug)
    except NotFound:
        raise Http404(f"Unknown project {slug!r}") from None
    if not project.is_published:
        raise Http404(f"Unknown project {slug!r}")
    tree = selectors.project_tree(project=project)
    return render(
        request,
        "labelling/classify.html",
        {"project": project, "tree": tree.as_json()},
    )
