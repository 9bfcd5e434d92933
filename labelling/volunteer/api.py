"""JSON endpoints used by the classify page and by any client.

Parse, authorise through one scoped fetch, call a service or selector, render. Every refusal is a
4xx whose `error` names the problem.
"""

import json
from functools import wraps

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.views import csrf, defaults

from labelling.core import snapshots
from labelling.core.errors import Conflict, InvalidInput, NotFound, StarlingError
from labelling.core.selectors import SUBJECT_ID_LIMIT
from labelling.models import Volunteer
from labelling.queue import choice
from labelling.teams import permissions
from labelling.teams.permissions import Right
from labelling.volunteer import accounts, openapi, ratelimit, submission
from labelling.volunteer.openapi import CLASSIFICATION_FIELDS, MAX_COUNT, MAX_EXCLUDED

SESSION_VOLUNTEER = "starling_volunteer"
API_PREFIX = "/api/"
JSON_TYPE = "application/json"  # the only body a submit takes
EXPECTED_FIELDS = ", ".join(CLASSIFICATION_FIELDS)


def api_endpoint(declared: openapi.Endpoint):
    """The view answers its declared method only (405 otherwise) and turns service errors into
    JSON 4xx responses; it carries `declared` for the schema (labelling/volunteer/openapi.py)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method != declared.method:
                return method_not_allowed(request, declared.method)
            try:
                return view(request, *args, **kwargs)
            except StarlingError as error:
                return JsonResponse({"error": error.message}, status=error.status)

        wrapper.endpoint = declared
        return wrapper

    return decorate


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is for the JSON API (its refusals are JSON; starling/middleware.py
    skips what only pages need)."""
    return request.path_info.startswith(API_PREFIX)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal: JSON `error` under /api/ (as the API's other refusals), else the
    HTML page."""
    if not is_api_request(request):
        return csrf.csrf_failure(request, reason=reason)
    return JsonResponse(
        {
            "error": f"CSRF check failed ({reason}): expected the header X-CSRFToken to carry the "
            "value of the csrftoken cookie, which GET /api/projects/<slug> (or the classify page) "
            "sets"
        },
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 for an address no route matches: JSON `error` under /api/ (as the API's other
    refusals), else the HTML page."""
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(
        {"error": f"No API endpoint at {request.path!r:.100}: GET /api/schema lists them"},
        status=404,
    )


def method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    response = JsonResponse(
        {"error": f"Method {request.method} not allowed here: use {allowed}"}, status=405
    )
    response["Allow"] = allowed
    return response


def project_for_volunteers(slug: str, user=None) -> snapshots.ProjectSnapshot:
    """The one scoped fetch for volunteer endpoints: a published project (cached), or an
    unpublished one for the signed-in `user` whose role lets them try it (a tester's run before
    launch, labelling/teams/permissions.py), else 404; 409 while its stored tree loops (a
    volunteer could never finish a classification)."""
    snapshot = snapshots.project_snapshot(slug=slug)
    if not snapshot.project.is_published and not (
        user is not None and permissions.may(user, snapshot.project, Right.PREVIEW)
    ):
        raise NotFound(f"Unknown project {slug!r}")
    loop_message = snapshots.tree_loop_message(snapshot)
    if loop_message:
        raise Conflict(loop_message)
    return snapshot


def _signed_in_user_id(request: HttpRequest) -> int | None:
    # An anonymous session has no auth key: no need to build request.user to know it.
    signed_in = SESSION_KEY in request.session and request.user.is_authenticated
    return request.user.pk if signed_in else None


def session_volunteer_id(request: HttpRequest) -> int | None:
    """The volunteer the session already holds for its account (or anonymity), else None."""
    return stored_volunteer_id(request.session, _signed_in_user_id(request))


def stored_volunteer_id(session, user_id: int | None) -> int | None:
    """The volunteer a session's data holds for the account `user_id` (None: anonymous), else None
    (also starling/api_fastpath.py's)."""
    stored = session.get(SESSION_VOLUNTEER)
    if isinstance(stored, list) and len(stored) == 2 and stored[1] == user_id:
        return stored[0]
    return None


def request_volunteer_id(request: HttpRequest) -> int:
    """The volunteer behind the request, kept in the session: no query once it is known.

    Stored with the account it belongs to, so that logging in or out never carries one person's
    volunteer over to another."""
    known = session_volunteer_id(request)
    if known is not None:
        return known
    user_id = _signed_in_user_id(request)
    if user_id is None:
        volunteer = accounts.volunteer_create_anonymous(address=ratelimit.client_address(request))
    else:
        volunteer = accounts.volunteer_get_or_create(user=request.user)
    request.session[SESSION_VOLUNTEER] = [volunteer.pk, user_id]
    return volunteer.pk


def ensure_csrf_cookie_once(request: HttpRequest) -> None:
    """Give a client without the CSRF cookie one (submits need it); a client with it costs nothing."""
    if settings.CSRF_COOKIE_NAME not in request.COOKIES:
        get_token(request)


def parse_exclude(raw: str) -> tuple[int, ...]:
    if not raw:
        return ()
    parts = raw.split(",")
    if len(parts) > MAX_EXCLUDED or not all(
        part.strip().isascii() and part.strip().isdigit() for part in parts
    ):
        raise InvalidInput(
            f"Invalid value for exclude: expected up to {MAX_EXCLUDED} comma-separated subject "
            f"ids, received {raw!r:.80}"
        )
    ids = tuple(int(part) for part in parts)
    if any(subject_id >= SUBJECT_ID_LIMIT for subject_id in ids):
        raise InvalidInput(
            f"Invalid value for exclude: subject ids are below 2**63, received {raw!r:.80}"
        )
    return ids


def parse_count(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_COUNT:
        raise InvalidInput(
            f"Invalid value for count: expected an integer from 1 to {MAX_COUNT}, "
            f"received {raw!r:.40}"
        )
    return int(raw)


@api_endpoint(openapi.NEXT_SUBJECT)
def next_subject(request: HttpRequest, slug: str) -> JsonResponse:
    """`?count=N` (1..10): {"subjects": [...]} best first; without it: {"subject": ... or null}."""
    snapshot = project_for_volunteers(slug, request.user)
    exclude_ids = parse_exclude(request.GET.get("exclude", ""))
    count = parse_count(request.GET.get("count"))
    payload = next_subject_payload(
        snapshot, volunteer_id=request_volunteer_id(request), exclude_ids=exclude_ids, count=count
    )
    ensure_csrf_cookie_once(request)
    return JsonResponse(payload)


def next_subject_payload(
    snapshot: snapshots.ProjectSnapshot, *, volunteer_id: int, exclude_ids: tuple, count: int | None
) -> dict:
    """next's answer (also starling/api_fastpath.py's)."""
    subjects = choice.subjects_next_for_volunteer(
        project=snapshot.project,
        volunteer_id=volunteer_id,
        count=count or 1,
        exclude_ids=exclude_ids,
        model_ranked=snapshot.model_ranked,
    )
    if count is not None:
        return {"subjects": subjects}
    if not subjects:
        return {"subject": None, "message": "No more images for you here. Thank you!"}
    return {"subject": subjects[0]}


@api_endpoint(openapi.PROJECT_DETAIL)
def project_detail(request: HttpRequest, slug: str) -> JsonResponse:
    """What a client needs to classify: the question tree and the project's settings."""
    snapshot = project_for_volunteers(slug, request.user)
    project = snapshot.project
    ensure_csrf_cookie_once(request)
    return JsonResponse(
        {
            "slug": project.slug,
            "title": project.title,
            "description": project.description,
            "image_size": project.image_size,
            "image_channels": project.image_channels,
            "retirement_limit": project.retirement_limit,
            "tree": snapshot.tree.as_json(),
            "question_order": snapshot.tree.ordered_keys(),
            "next_url": reverse("api_next", args=[project.slug]),
            "max_count": MAX_COUNT,
            "classifications_url": reverse("api_classifications", args=[project.slug]),
        }
    )


def require_json(content_type: str) -> None:
    if content_type != JSON_TYPE:
        raise InvalidInput(f"Invalid content type: expected {JSON_TYPE}, received {content_type!r}")


def parse_classification(raw: bytes) -> dict:
    """A submit's JSON body as its fields, or InvalidInput naming the problem."""
    try:
        body = json.loads(raw or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Invalid JSON body: {error}") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"Invalid JSON body: expected an object, received {type(body).__name__}")
    missing = [name for name in CLASSIFICATION_FIELDS if name not in body]
    if missing:
        raise InvalidInput(f"Missing field(s) {missing}: expected {{{EXPECTED_FIELDS}}}")
    unknown = sorted(set(body).difference(CLASSIFICATION_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s) {unknown}: expected {EXPECTED_FIELDS}")
    return body


@api_endpoint(openapi.CLASSIFICATIONS)
def classifications(request: HttpRequest, slug: str) -> JsonResponse:
    snapshot = project_for_volunteers(slug, request.user)
    require_json(request.content_type)
    body = parse_classification(request.body)
    try:
        status, payload, headers = submit_classification(
            snapshot,
            volunteer_id=request_volunteer_id(request),
            address=ratelimit.client_address(request),
            body=body,
        )
    except submission.VolunteerGone:
        request.session.pop(SESSION_VOLUNTEER, None)
        raise
    response = JsonResponse(payload, status=status)
    for name, value in headers:
        response[name] = value
    return response


def submit_classification(
    snapshot: snapshots.ProjectSnapshot, *, volunteer_id: int, address: str, body: dict
) -> tuple[int, dict, list[tuple[str, str]]]:
    """A submit after its body was parsed: (status, answer, extra headers), the rate limit's 429
    included (also starling/api_fastpath.py's). Raises VolunteerGone before anything is stored."""
    refusal = ratelimit.check_submit(volunteer_id=volunteer_id, address=address)
    if refusal is not None:
        return 429, {"error": refusal.message}, [("Retry-After", str(refusal.retry_after))]
    classification, created = submission.classification_submit(
        project=snapshot.project,
        volunteer=Volunteer(pk=volunteer_id),
        subject_id=body["subject"],
        annotations=body["answers"],
        idempotency_key=body["idempotency_key"],
        tree=snapshot.tree,
    )
    return (201 if created else 200), classification_json(classification, created), []


def classification_json(classification, created: bool) -> dict:
    """A stored classification as the API answers a submit (`created`: False for a replay)."""
    return {
        "id": classification.pk,
        "subject": classification.subject_id,
        "answers": classification.annotations,
        "after_retirement": classification.after_retirement,
        "requested_by_model": classification.requested_by_model,
        "created": created,
    }


def schema(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3 document of the endpoints above, built from their declarations and routes."""
    if request.method != "GET":
        return method_not_allowed(request, "GET")
    return JsonResponse(openapi.document())
