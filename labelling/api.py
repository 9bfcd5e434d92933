"""JSON endpoints used by the classify page and by any client.

Parse, authorise through one scoped fetch, call a service or selector, render. Every refusal is a
4xx whose `error` names the problem.
"""

import json
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from labelling import ratelimit, selectors, services
from labelling.errors import InvalidInput, StarlingError
from labelling.models import Project, Subject

MAX_EXCLUDED = 20


def json_errors(view):
    """Turn service errors into JSON 4xx responses and refuse unexpected methods."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except StarlingError as error:
            return JsonResponse({"error": error.message}, status=error.status)

    return wrapper


def method_not_allowed(request: HttpRequest, allowed: str) -> JsonResponse:
    response = JsonResponse(
        {"error": f"Method {request.method} not allowed here: use {allowed}"}, status=405
    )
    response["Allow"] = allowed
    return response


def project_for_volunteers(slug: str) -> Project:
    """The one scoped fetch for volunteer endpoints: a published project, else 404."""
    project = selectors.project_get_by_slug(slug=slug)
    if not project.is_published:
        raise selectors.NotFound(f"Unknown project {slug!r}")
    return project


def request_volunteer(request: HttpRequest):
    if not request.user.is_authenticated and not request.session.session_key:
        request.session.save()
    return services.volunteer_get_or_create(
        user=request.user, session_key=request.session.session_key
    )


def subject_json(subject: Subject) -> dict:
    return {"id": subject.pk, "image_url": subject.image_url}


def parse_exclude(raw: str) -> tuple[int, ...]:
    if not raw:
        return ()
    parts = raw.split(",")
    if len(parts) > MAX_EXCLUDED or not all(part.strip().isdigit() for part in parts):
        raise InvalidInput(
            f"Invalid value for exclude: expected up to {MAX_EXCLUDED} comma-separated subject "
            f"ids, received {raw!r:.80}"
        )
    return tuple(int(part) for part in parts)


@ensure_csrf_cookie
@json_errors
def next_subject(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "GET":
        return method_not_allowed(request, "GET")
    project = project_for_volunteers(slug)
    exclude_ids = parse_exclude(request.GET.get("exclude", ""))
    volunteer = request_volunteer(request)
    subject = selectors.subject_next_for_volunteer(
        project=project, volunteer=volunteer, exclude_ids=exclude_ids
    )
    if subject is None:
        return JsonResponse({"subject": None, "message": "No more images for you here. Thank you!"})
    return JsonResponse({"subject": subject_json(subject)})


def parse_json_body(request: HttpRequest) -> dict:
    if request.content_type != "application/json":
        raise InvalidInput(
            f"Invalid content type: expected application/json, received {request.content_type!r}"
        )
    try:
        body = json.loads(request.body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Invalid JSON body: {error}") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"Invalid JSON body: expected an object, received {type(body).__name__}")
    return body


@json_errors
def classifications(request: HttpRequest, slug: str) -> JsonResponse:
    if request.method != "POST":
        return method_not_allowed(request, "POST")
    project = project_for_volunteers(slug)
    body = parse_json_body(request)
    missing = [name for name in ("subject", "answers", "idempotency_key") if name not in body]
    if missing:
        raise InvalidInput(
            f"Missing field(s) {missing}: expected {{subject, answers, idempotency_key}}"
        )
    unknown = sorted(set(body) - {"subject", "answers", "idempotency_key"})
    if unknown:
        raise InvalidInput(
            f"Unknown field(s) {unknown}: expected subject, answers, idempotency_key"
        )
    volunteer = request_volunteer(request)
    refusal = ratelimit.check_submit(
        volunteer_id=volunteer.pk, address=ratelimit.client_address(request)
    )
    if refusal is not None:
        response = JsonResponse({"error": refusal.message}, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    classification, created = services.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=body["subject"],
        annotations=body["answers"],
        idempotency_key=body["idempotency_key"],
    )
    return JsonResponse(
        {
            "id": classification.pk,
            "subject": classification.subject_id,
            "answers": classification.annotations,
            "after_retirement": classification.after_retirement,
            "created": created,
        },
        status=201 if created else 200,
    )
