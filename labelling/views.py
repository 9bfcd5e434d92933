"""Volunteer pages: the project list and the classify page (its JavaScript talks to api.py)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from labelling import selectors, snapshots
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
        snapshot = snapshots.project_snapshot(slug=slug)
    except NotFound:
        raise Http404(f"Unknown project {slug!r}") from None
    if not snapshot.project.is_published:
        raise Http404(f"Unknown project {slug!r}")
    return render(
        request,
        "labelling/classify.html",
        {"project": snapshot.project, "tree": snapshot.tree.as_json()},
    )
