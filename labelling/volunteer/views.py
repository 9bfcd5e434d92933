"""Volunteer pages: the project cards, the classify page (its JavaScript talks to api.py), with
its tutorial and field guide, and the volunteer's own page."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.static import serve

from labelling.core import snapshots
from labelling.core.errors import NotFound
from labelling.core.markdown import render_markdown
from labelling.teams import permissions
from labelling.teams.permissions import Right
from labelling.volunteer import volunteer_selectors
from labelling.volunteer.api import session_volunteer_id

# Project ids whose tutorial this browser session was shown (first visit only).
SESSION_TUTORIALS_SEEN = "starling_tutorials_seen"


def project_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "labelling/project_list.html",
        {"cards": volunteer_selectors.project_cards()},
    )


@ensure_csrf_cookie
def classify(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        snapshot = snapshots.project_snapshot(slug=slug)
    except NotFound:
        raise Http404(f"Unknown project {slug!r}") from None
    project = snapshot.project
    if not project.is_published and not permissions.may(request.user, project, Right.PREVIEW):
        raise Http404(f"Unknown project {slug!r}")
    loop_message = snapshots.tree_loop_message(snapshot)
    if loop_message:
        return render(
            request,
            "labelling/unavailable.html",
            {"project": project, "message": loop_message},
            status=503,
        )
    tutorial = render_markdown(project.tutorial_markdown)
    return render(
        request,
        "labelling/classify.html",
        {
            "project": project,
            "tree": snapshot.tree.as_json(),
            "tutorial": tutorial,
            "show_tutorial": bool(tutorial) and _first_visit(request, project.pk),
            "field_guide_text": render_markdown(project.field_guide_markdown),
            "field_guide": volunteer_selectors.field_guide(project=project, tree=snapshot.tree),
        },
    )


def _first_visit(request: HttpRequest, project_id: int) -> bool:
    """Whether this session has not been shown the project's tutorial yet; marks it shown."""
    seen = request.session.get(SESSION_TUTORIALS_SEEN, [])
    if not isinstance(seen, list):
        seen = []
    if project_id in seen:
        return False
    request.session[SESSION_TUTORIALS_SEEN] = [*seen[-49:], project_id]
    return True


def volunteer_page(request: HttpRequest) -> HttpResponse:
    """The volunteer's classifications per project, and how many the model had asked for."""
    volunteer_id = session_volunteer_id(request)
    if volunteer_id is None and request.user.is_authenticated:
        volunteer_id = volunteer_selectors.volunteer_id_for_user(user_id=request.user.pk)
    contributions = volunteer_selectors.volunteer_contributions(volunteer_id=volunteer_id)
    return render(
        request,
        "labelling/volunteer.html",
        {
            "contributions": contributions,
            "total": sum(row["classifications"] for row in contributions),
            "requested": sum(row["requested"] for row in contributions),
        },
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """For clients that ask for /favicon.ico without reading the pages' <link rel="icon">."""
    return redirect(static("labelling/favicon.svg"), permanent=True)


def media_file(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded image, unless every subject showing it was withdrawn (it is never served
    again). In production a web server in front of MEDIA_ROOT must ask the same (README)."""
    if volunteer_selectors.image_withdrawn(path=path):
        raise Http404("This image was withdrawn by its project's team")
    return serve(request, path, document_root=settings.MEDIA_ROOT)
