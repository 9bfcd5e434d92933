"""The volunteer API's contract, declared once, and the OpenAPI document `GET /api/schema` serves.

Each view in labelling/volunteer/api.py is wrapped with its `Endpoint` below: the wrapper answers
only the endpoint's method, and the views parse with the limits named here (`MAX_COUNT`,
`MAX_EXCLUDED`, `CLASSIFICATION_FIELDS`, the subject id and idempotency key bounds). `document()`
takes the paths and their parameters from the URL patterns that route to those views, so a route,
a method, a limit or a required field changes in the code and in the schema together. The answers'
shapes are declared here beside the requests; tests/labelling/volunteer/test_openapi.py and the
schemathesis run (tests/security/test_fuzz_api.py) check every answer against them.
"""

import functools
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from labelling.core.selectors import SUBJECT_ID_LIMIT
from labelling.volunteer.submission import IDEMPOTENCY_KEY_MAX_LENGTH

MAX_EXCLUDED = 20
MAX_COUNT = 10
CSRF_HEADER = "X-CSRFToken"


@dataclass(frozen=True)
class Endpoint:
    """One operation: `operation_id` the name a generated client gives its function
    (openapi-python-client: `get_project.sync(...)`); `responses` maps a status to (description,
    JSON Schema of the body or a component name such as "Error"); `headers` names the response
    headers a status carries."""

    method: str
    operation_id: str
    summary: str
    responses: dict[int, tuple[str, dict | str]]
    parameters: tuple[dict, ...] = ()
    body: dict | None = None
    csrf: bool = False
    headers: dict[int, dict[str, str]] = field(default_factory=dict)


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


SUBJECT_ID = {"type": "integer", "minimum": 1, "maximum": SUBJECT_ID_LIMIT - 1}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """A JSON object with exactly these properties, all required but `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }


COMPONENTS = {
    "Error": _object({"error": {"type": "string", "minLength": 1}}),
    "Subject": _object({"id": SUBJECT_ID, "image_url": STRING}),
    "Answer": _object(
        {"key": STRING, "text": STRING, "shortcut": STRING, "next": _nullable(STRING)}
    ),
    "Question": _object(
        {
            "key": STRING,
            "text": STRING,
            "answers": {"type": "array", "items": {"$ref": "#/components/schemas/Answer"}},
        }
    ),
    "Tree": _object(
        {
            "root": _nullable(STRING),
            "questions": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/Question"},
            },
        }
    ),
    # question key -> answer key, in the order the volunteer walked the tree
    "Answers": {"type": "object", "minProperties": 1, "additionalProperties": STRING},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SUBJECTS_EXCLUDED = {
    "name": "exclude",
    "in": "query",
    "description": "Subject ids the client already holds, left out of the answer "
    "(comma-separated; empty for none).",
    "style": "form",
    "explode": False,
    "schema": {
        "type": "array",
        "maxItems": MAX_EXCLUDED,
        "items": {"type": "integer", "minimum": 0, "maximum": SUBJECT_ID_LIMIT - 1},
    },
}
SUBJECT_COUNT = {
    "name": "count",
    "in": "query",
    "description": 'How many subjects to answer, as {"subjects": [...]}; without it one, as '
    '{"subject": ...}.',
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
}
UNKNOWN_PROJECT = ("Unknown or unpublished project", "Error")
# The answers' and the request's shapes, named (a generated client's types: Project, SubjectList,
# NextSubject, NewClassification, Classification).
COMPONENTS["Project"] = _object(
    {
        "slug": STRING,
        "title": STRING,
        "description": STRING,
        "image_size": {"type": "integer"},
        "image_channels": {"type": "integer"},
        "retirement_limit": {"type": "integer"},
        "tree": _ref("Tree"),
        "question_order": {"type": "array", "items": STRING},
        "next_url": STRING,
        "max_count": {"type": "integer", "enum": [MAX_COUNT]},
        "classifications_url": STRING,
    }
)
COMPONENTS["SubjectList"] = _object({"subjects": {"type": "array", "items": _ref("Subject")}})
COMPONENTS["NextSubject"] = _object(
    {"subject": _nullable(_ref("Subject")), "message": STRING}, optional=("message",)
)
LOOPING_TREE = ("The project's questions loop: no classification could be finished", "Error")

PROJECT_DETAIL = Endpoint(
    method="GET",
    operation_id="get_project",
    summary="What a client needs to classify: the question tree and the project's settings. "
    "Sets the csrftoken cookie that classifications need.",
    responses={
        200: ("The project", "Project"),
        404: UNKNOWN_PROJECT,
        409: LOOPING_TREE,
    },
)

NEXT_SUBJECT = Endpoint(
    method="GET",
    operation_id="get_next_subjects",
    summary="The next subjects for this session's volunteer, best first: none it classified, "
    "none retired, none excluded.",
    parameters=(SUBJECT_COUNT, SUBJECTS_EXCLUDED),
    responses={
        200: (
            'With count: {"subjects": [...]} ([] when none is left); without: {"subject": ... '
            "or null}",
            {"oneOf": [_ref("SubjectList"), _ref("NextSubject")]},
        ),
        400: ("A malformed count or exclude", "Error"),
        404: UNKNOWN_PROJECT,
        409: LOOPING_TREE,
    },
)

COMPONENTS["NewClassification"] = CLASSIFICATION_BODY = _object(
    {
        "subject": {"anyOf": [SUBJECT_ID, {"type": "string", "pattern": "^[0-9]+$"}]},
        "answers": _ref("Answers"),
        "idempotency_key": {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
            "pattern": "^[^\\u0000]*$",
            "description": "The client's name for this classification: a retry with the same "
            "key answers the stored one.",
        },
    }
)
# The fields the view requires, and the only ones it takes.
CLASSIFICATION_FIELDS = tuple(CLASSIFICATION_BODY["properties"])
COMPONENTS["Classification"] = _object(
    {
        "id": {"type": "integer"},
        "subject": SUBJECT_ID,
        "answers": _ref("Answers"),
        "after_retirement": BOOLEAN,
        "requested_by_model": BOOLEAN,
        "created": BOOLEAN,
    }
)

CLASSIFICATIONS = Endpoint(
    method="POST",
    operation_id="submit_classification",
    summary="Store one classification of a subject by this session's volunteer. Needs the "
    f"session's csrftoken cookie and its value in the {CSRF_HEADER} header (see the document's "
    "description).",
    body=_ref("NewClassification"),
    csrf=True,
    responses={
        201: ("Stored", "Classification"),
        200: (
            "A replay of an earlier idempotency key: the stored classification",
            "Classification",
        ),
        400: ("Not a classification: the error names the field and what was expected", "Error"),
        403: (
            f"The CSRF check failed: send the csrftoken cookie's value as {CSRF_HEADER}",
            "Error",
        ),
        404: ("Unknown or unpublished project, or a subject not in it", "Error"),
        409: (
            "Already classified by this volunteer, the key used for another subject, or a "
            "looping tree",
            "Error",
        ),
        429: ("Over the rate limit: try again after Retry-After seconds", "Error"),
    },
    headers={429: {"Retry-After": "Seconds until the limit's window ends"}},
)


def _operation(endpoint: Endpoint, path_parameters: list[dict]) -> dict:
    responses = {}
    for status, (description, schema) in endpoint.responses.items():
        body = _ref(schema) if isinstance(schema, str) else schema
        response = {"description": description, "content": {"application/json": {"schema": body}}}
        if status in endpoint.headers:
            response["headers"] = {
                name: {"description": text, "required": True, "schema": {"type": "integer"}}
                for name, text in endpoint.headers[status].items()
            }
        responses[str(status)] = response
    operation = {
        "operationId": endpoint.operation_id,
        "tags": ["volunteer"],
        "summary": endpoint.summary,
        "parameters": path_parameters + list(endpoint.parameters),
        "responses": responses,
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": endpoint.body}},
        }
    if endpoint.csrf:
        operation["security"] = [{"csrfCookie": [], "csrfHeader": []}]
    return operation


def _routes(patterns, prefix: str = "", converters: dict | None = None):
    """(route, converters, view) of every URL pattern, included ones too."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        found = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route, found)
        elif isinstance(pattern, URLPattern):
            yield route, found, pattern.callback


def _openapi_path(route: str, converters: dict) -> tuple[str, list[dict]]:
    """Django's `api/projects/<slug:slug>` as OpenAPI's `/api/projects/{slug}`, and its
    parameters with the converters' patterns."""
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^{converter.regex}$"},
        }
        for name, converter in converters.items()
    ]
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), parameters


# How a client passes Django's CSRF check (also in the README, "The volunteer API").
CSRF_EXCHANGE = (
    "Classifying is a POST and needs the CSRF exchange: (1) GET /api/projects/{slug} "
    "(get_project) sets two cookies, the session's and "
    f"{settings.CSRF_COOKIE_NAME}; (2) keep them (one HTTP client with a cookie jar: a client "
    "generated from this document keeps them in its httpx client); (3) send every POST with "
    f"the cookies and the {settings.CSRF_COOKIE_NAME} cookie's value in the {CSRF_HEADER} "
    "header. Over HTTPS also send a Referer header of the site's own origin. A POST without "
    "them is refused with a 403 whose `error` says which part of the check failed (such as "
    '"CSRF cookie not set").'
)


@functools.cache
def document() -> dict:
    """The OpenAPI 3 document of every route whose view carries an `Endpoint` (api.api_endpoint)."""
    paths: dict[str, dict] = {}
    for route, converters, view in _routes(get_resolver().url_patterns):
        endpoint = getattr(view, "endpoint", None)
        if isinstance(endpoint, Endpoint):
            path, parameters = _openapi_path(route, converters)
            paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, parameters)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Starling volunteer API",
            "version": "1",
            "description": "What the classify page uses; any client can. The session cookie "
            f"({settings.SESSION_COOKIE_NAME}) keeps the volunteer: a client without it is given "
            "a new anonymous volunteer and the cookie. A method an endpoint does not answer is a "
            "405 naming the one it does (Allow header); every refusal is a 4xx whose `error` "
            "names the problem.\n\n" + CSRF_EXCHANGE,
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "csrfCookie": {"type": "apiKey", "in": "cookie", "name": settings.CSRF_COOKIE_NAME},
                "csrfHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": CSRF_HEADER,
                    "description": f"The {settings.CSRF_COOKIE_NAME} cookie's value, which GET "
                    "/api/projects/{slug} (or the classify page) sets.",
                },
            },
        },
    }
