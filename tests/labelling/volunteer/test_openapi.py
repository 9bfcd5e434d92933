"""`GET /api/schema` (labelling/volunteer/openapi.py): built from the views' own declarations and
routes, and a client working from it alone classifies."""

import pytest
from django.test import Client
from werkzeug import Client as WsgiClient

from labelling.models import Classification
from labelling.volunteer.api import CLASSIFICATION_FIELDS, MAX_COUNT, MAX_EXCLUDED

pytestmark = pytest.mark.django_db
PROJECT = "/api/projects/{slug}"
NEXT = "/api/projects/{slug}/next"
CLASSIFICATIONS = "/api/projects/{slug}/classifications"


def request_body(document: dict) -> dict:
    """The classification request's schema (a named component)."""
    body = document["paths"][CLASSIFICATIONS]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[-1]
    return document["components"]["schemas"][name]


def test_the_schema_describes_every_api_route_and_the_views_limits():
    document = Client().get("/api/schema").json()
    assert document["openapi"].startswith("3.")
    assert {path: list(item) for path, item in document["paths"].items()} == {
        PROJECT: ["get"],
        NEXT: ["get"],
        CLASSIFICATIONS: ["post"],
    }
    parameters = {
        item["name"]: item["schema"] for item in document["paths"][NEXT]["get"]["parameters"]
    }
    assert parameters["count"]["maximum"] == MAX_COUNT
    assert parameters["exclude"]["maxItems"] == MAX_EXCLUDED
    assert tuple(request_body(document)["required"]) == CLASSIFICATION_FIELDS
    # Names a person would write, for a generated client's functions.
    assert sorted(
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ) == ["get_next_subjects", "get_project", "submit_classification"]


def test_requests_just_past_the_schemas_limits_are_refused(project):
    document = Client().get("/api/schema").json()
    parameters = {
        item["name"]: item["schema"] for item in document["paths"][NEXT]["get"]["parameters"]
    }
    next_url = NEXT.format(slug=project.slug)
    too_many = parameters["count"]["maximum"] + 1
    assert Client().get(next_url, {"count": too_many}).status_code == 400
    excluded = ",".join(["1"] * (parameters["exclude"]["maxItems"] + 1))
    assert Client().get(next_url, {"exclude": excluded}).status_code == 400
    for left_out in request_body(document)["required"]:
        body = {"subject": 1, "answers": {}, "idempotency_key": "k"}
        del body[left_out]
        response = Client().post(
            CLASSIFICATIONS.format(slug=project.slug), body, content_type="application/json"
        )
        assert response.status_code == 400 and left_out in response.json()["error"]


def first_answers(tree: dict) -> dict[str, str]:
    """A walk down the tree taking each question's first answer."""
    answers, question = {}, tree["root"]
    while question is not None:
        first = tree["questions"][question]["answers"][0]
        answers[question] = first["key"]
        question = first["next"]
    return answers


def test_a_client_working_from_the_schema_classifies_and_the_vote_is_stored(api_schema, project):
    """schemathesis' own calls, through every middleware: the project (which sets the CSRF
    cookie), next, then a classification with the cookie's value in X-CSRFToken."""
    browser = WsgiClient(api_schema.app)
    slug = {"slug": project.slug}

    def call(path, method, **parts):
        case = api_schema[path][method].Case(path_parameters=slug, **parts)
        response = case.call(session=browser)
        case.validate_response(response)
        return response

    detail = call(PROJECT, "GET").json()
    subject = call(NEXT, "GET", query={"count": 1}).json()["subjects"][0]
    token = browser.get_cookie("csrftoken").value
    body = {
        "subject": subject["id"],
        "answers": first_answers(detail["tree"]),
        "idempotency_key": "1",
    }
    response = call(
        CLASSIFICATIONS,
        "POST",
        body=body,
        media_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201
    stored = Classification.objects.get(pk=response.json()["id"])
    assert (stored.subject_id, stored.annotations) == (subject["id"], body["answers"])
