"""Fuzzing the JSON API: never a 500, every answer one the schema allows, every refusal names the
problem, and the books balance afterwards.

schemathesis generates requests from `GET /api/schema` (labelling/volunteer/openapi.py), valid and
invalid, and sends them to the application production serves (starling.wsgi: the fast path in front
of Django's whole middleware stack), from volunteers in the steady state, whose next and submit the
fast path answers, and from new ones, whom Django answers. Hypothesis covers what the schema does
not describe: bodies of raw bytes in any content type, any text in `exclude`, other methods. Each
test counts the requests the fast path answered.
"""

import logging
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import CSRF_TOKEN
from tests.deployed import DeployedClient, deployed_application
from tests.labelling.api_calls import assert_books_exact

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=120, deadline=None)
# Enough for every kind of answer (operation, status, error): in a run of 10,000 here, all but one
# had come by the 3,000th, and that one (Django's CSRF refusal of a header with invalid characters)
# is tested in tests/starling/test_api_fastpath.py.
SCHEMA_REQUESTS = 3_000
# Every way down conftest's two-question tree: requests steered to them get past the tree check.
WALKS = (
    {"smooth-or-featured": "smooth"},
    {"smooth-or-featured": "featured", "bar": "bar"},
    {"smooth-or-featured": "featured", "bar": "no-bar"},
)


def assert_refusal_is_clear(status_code: int, body: dict | None):
    assert status_code < 500
    if status_code >= 400:
        assert isinstance(body.get("error"), str) and len(body["error"]) > 10, body


def steered(case, subject_ids: list[int], draw):
    """A valid request often names a real subject and walks the tree: generated data alone would
    almost never, and the books would have nothing to balance."""
    if (
        case.meta.generation.mode.is_positive
        and isinstance(case.body, dict)
        and draw(st.booleans())
    ):
        case.body["subject"] = draw(st.sampled_from(subject_ids))
        case.body["answers"] = draw(st.sampled_from(WALKS))
    return case


@pytest.mark.slow
def test_schemathesis_requests_get_answers_the_schema_allows_and_the_books_balance(
    api_schema, make_project, caplog
):
    from schemathesis import GenerationMode
    from schemathesis.auths import AuthStorage
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.specs.openapi.checks import (
        negative_data_rejection,
        positive_data_acceptance,
    )
    from werkzeug import Client as WsgiClient

    csrf = AuthStorage()

    @csrf.auth().apply_to(method="POST")
    class CsrfToken:
        """The CSRF cookie and header, where schemathesis did not set out to break them."""

        def get(self, case, context):
            return CSRF_TOKEN

        def set(self, case, token, context):
            case.headers = {**(case.headers or {}), "X-CSRFToken": token}
            case.cookies = {**(case.cookies or {}), "csrftoken": token}

    for logger in ("django.request", "django.security.csrf"):  # a warning per refusal
        caplog.set_level(logging.ERROR, logger=logger)
    project = make_project(slug="fuzz", subjects=12, retirement_limit=3)
    subject_ids = list(project.subjects.values_list("pk", flat=True))
    # A few volunteers who keep their session (replays, second votes), and new ones (None).
    volunteers = [WsgiClient(api_schema.app) for _ in range(4)] + [None]
    # Nine in ten requests to the project, the others to whatever slug is generated. At the
    # project, an operation whose only parameter is the slug has nothing to break.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    at_project = st.one_of(
        operation.as_strategy(mode, auth_storage=csrf, path_parameters={"slug": project.slug})
        for operation in operations
        for mode in GenerationMode
        if mode is GenerationMode.POSITIVE or operation.query or operation.body
    )
    anywhere = st.one_of(api_schema.as_strategy(mode, auth_storage=csrf) for mode in GenerationMode)
    cases = st.integers(0, 9).flatmap(lambda draw: at_project if draw else anywhere)
    statuses: dict[int, int] = {}
    answered_before = deployed_application().answered.copy()

    @settings(
        max_examples=SCHEMA_REQUESTS,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, volunteer=st.sampled_from(volunteers), data=st.data())
    def request_answered_as_the_schema_says(case, volunteer, data):
        case = steered(case, subject_ids, data.draw)
        response = case.call(session=volunteer)
        # Answers depend on the project's tree, which the schema cannot know: a generated answer
        # is refused (400) though it has the schema's shape.
        excluded = [positive_data_acceptance]
        if case.meta.is_negative_at(ParameterLocation.QUERY):
            # An invalid query value can reach the wire as a valid one (null or {} as nothing,
            # 5 as the list "5"): only its status and answer are judged.
            excluded.append(negative_data_rejection)
        case.validate_response(response, excluded_checks=excluded)
        assert_refusal_is_clear(response.status_code, response.json())
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.monotonic()
    request_answered_as_the_schema_says()
    answered = deployed_application().answered - answered_before
    print(
        f"{sum(statuses.values())} requests in {time.monotonic() - started:.0f} s: {statuses}; "
        f"answered by the fast path: {dict(answered)}"
    )
    assert sum(statuses.values()) >= SCHEMA_REQUESTS
    # Volunteers in the steady state: their nexts and submits are the fast path's (and Django
    # answers the rest, the new volunteers' first requests among them).
    assert answered["next"] > 0 and answered["submit"] > 0, answered
    assert statuses.get(201, 0) > SCHEMA_REQUESTS // 100, statuses
    assert_books_exact(project)


@pytest.fixture
def volunteer_client(project):
    """A volunteer in the steady state (its session holds its volunteer, it has the CSRF cookie):
    the fast path answers its next and its JSON submit."""
    client = DeployedClient()
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200
    return client


def sender(volunteer_client, new: bool) -> DeployedClient:
    """The volunteer in the steady state, or a new client (Django answers its first request)."""
    return DeployedClient() if new else volunteer_client


def test_classification_endpoint_never_fails_on_any_bytes(project, volunteer_client):
    @FUZZ
    @given(
        raw=st.binary(max_size=300),
        content_type=st.sampled_from(
            [
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "",
            ]
        ),
        new=st.booleans(),
    )
    def any_bytes(raw, content_type, new):
        response = sender(volunteer_client, new).generic(
            "POST", f"/api/projects/{project.slug}/classifications", raw, content_type=content_type
        )
        assert_refusal_is_clear(response.status_code, response.json())

    any_bytes()
    assert volunteer_client.answered_here > 0  # its JSON bodies: the fast path's


def test_next_endpoint_never_fails_on_any_query(project, volunteer_client):
    @FUZZ
    @given(
        exclude=st.text(max_size=60),
        extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
        new=st.booleans(),
    )
    def any_query(exclude, extra, new):
        response = sender(volunteer_client, new).get(
            f"/api/projects/{project.slug}/next", {"exclude": exclude, **extra}
        )
        assert_refusal_is_clear(response.status_code, response.json())

    any_query()
    assert volunteer_client.answered_here > 0


def test_wrong_methods_and_unknown_projects_are_refused_cleanly(project, volunteer_client):
    @FUZZ
    @given(
        method=st.sampled_from(["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]),
        path=st.sampled_from(["next", "classifications"]),
        slug=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    )
    def wrong_method(method, path, slug):
        response = volunteer_client.generic(method, f"/api/projects/{slug}/{path}")
        assert response.status_code in (404, 405)
        if method != "HEAD":
            assert "error" in response.json()

    wrong_method()
    assert volunteer_client.answered_here == 0  # every one handed to Django
