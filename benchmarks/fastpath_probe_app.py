"""A measurement probe, never served: next-subject and submit answered without Django's handler.

Issue 27 asks for a submit's web CPU ≤ 2x the bare Django view's and a next's ≤ 1.3x. This WSGI
application answers the two hot endpoints with the same service calls production makes (the queue
script, the rate limit, the one-statement submit) but none of Django's request handling: no
WSGIRequest, URL resolver, middleware, signals or HttpResponse. Everything else, the bare view
included, goes to Django. benchmarks/serving_fastpath_probe.py runs it beside production's
gunicorn to show what the ratios would be if the hot endpoints left Django.

With STARLING_PROBE_SKIP_RATE_LIMIT=1 it also leaves out the rate limit (its own Redis round trip).

It is NOT a safe server: it checks the CSRF token but not the Origin header, sets none of the
cookies a new client needs (such clients are handed to Django), skips the security middleware's
settings and turns every service error into a bare 4xx. Only the probe starts it, on 127.0.0.1.
"""

import json
import os

from starling.wsgi import application as django_application  # first: it sets Django up

# isort: split
from django.conf import settings
from django.http.cookie import parse_cookie
from django.middleware.csrf import InvalidTokenFormat, _check_token_format, _does_token_match

from labelling.core.errors import StarlingError
from labelling.models import Volunteer
from labelling.queue import choice
from labelling.volunteer import ratelimit, submission
from labelling.volunteer.api import (
    SESSION_VOLUNTEER,
    classification_json,
    project_for_volunteers,
)
from starling.sessions import SessionStore

HEADERS = [
    ("Content-Type", "application/json"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Vary", "Cookie"),
]
STATUS_TEXT = {200: "200 OK", 201: "201 Created"}
# The rate limit's Redis round trip left out: the most that folding it into the queue's one trip
# could save (issue 27's candidate), measured as a third server by the probe.
SKIP_RATE_LIMIT = os.environ.get("STARLING_PROBE_SKIP_RATE_LIMIT") == "1"


def answer(start_response, status: int, payload: dict) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        STATUS_TEXT.get(status, f"{status} Refused"),
        [*HEADERS, ("Content-Length", str(len(body)))],
    )
    return [body]


def hot_endpoint(environ) -> tuple[str, str] | None:
    """(slug, "next" or "classifications") for the two hot endpoints' method and path, else None."""
    parts = environ.get("PATH_INFO", "").split("/")
    if len(parts) != 5 or parts[1:3] != ["api", "projects"] or environ.get("QUERY_STRING"):
        return None
    wanted = {"next": "GET", "classifications": "POST"}.get(parts[4])
    return (parts[3], parts[4]) if wanted == environ["REQUEST_METHOD"] else None


def application(environ, start_response):
    hot = hot_endpoint(environ)
    cookies = parse_cookie(environ.get("HTTP_COOKIE", "")) if hot else {}
    session = SessionStore(cookies.get(settings.SESSION_COOKIE_NAME)).load() if hot else {}
    stored = session.get(SESSION_VOLUNTEER)
    # A new client, a signed-in one or one without the CSRF cookie: Django's full path.
    if not stored or "_auth_user_id" in session or settings.CSRF_COOKIE_NAME not in cookies:
        return django_application(environ, start_response)
    slug, endpoint = hot
    volunteer_id = stored[0]
    try:
        snapshot = project_for_volunteers(slug)  # published, its tree not looping: as the API
        if endpoint == "next":
            subjects = choice.subjects_next_for_volunteer(
                project=snapshot.project,
                volunteer_id=volunteer_id,
                model_ranked=snapshot.model_ranked,
            )
            return answer(start_response, 200, {"subject": subjects[0] if subjects else None})
        token, secret = environ.get("HTTP_X_CSRFTOKEN", ""), cookies[settings.CSRF_COOKIE_NAME]
        try:
            _check_token_format(token)
            _check_token_format(secret)
        except InvalidTokenFormat:
            return answer(start_response, 403, {"error": "CSRF token has the wrong format"})
        if not _does_token_match(token, secret):
            return answer(start_response, 403, {"error": "CSRF token does not match"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        refusal = (
            None
            if SKIP_RATE_LIMIT
            else ratelimit.check_submit(
                volunteer_id=volunteer_id, address=environ.get("REMOTE_ADDR", "unknown")
            )
        )
        if refusal is not None:
            return answer(start_response, 429, {"error": refusal.message})
        classification, created = submission.classification_submit(
            project=snapshot.project,
            volunteer=Volunteer(pk=volunteer_id),
            subject_id=body["subject"],
            annotations=body["answers"],
            idempotency_key=body["idempotency_key"],
            tree=snapshot.tree,
        )
    except StarlingError as error:
        return answer(start_response, error.status, {"error": error.message})
    return answer(
        start_response, 201 if created else 200, classification_json(classification, created)
    )
