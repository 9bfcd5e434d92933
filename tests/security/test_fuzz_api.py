"""Property-based fuzzing of every JSON endpoint: never a 500, every refusal names the problem."""

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(["smooth-or-featured", "bar", "edge-on", "", "x" * 70])
answer_values = (
    st.sampled_from(["smooth", "featured", "bar", "no-bar", "", "ÿ"]) | st.integers() | st.none()
)
classification_like = st.fixed_dictionaries(
    {},
    optional={
        "subject": st.integers(-5, 10**12)
        | st.text(max_size=8)
        | st.none()
        | st.floats(allow_nan=False),
        "answers": st.dictionaries(keys, answer_values, max_size=3) | json_values,
        "idempotency_key": st.text(max_size=80) | st.integers() | st.none(),
        "extra": json_values,
    },
)


def assert_refusal_is_clear(response):
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and len(body["error"]) > 10


@FUZZ
@given(body=classification_like | json_values)
def test_classification_endpoint_never_fails_on_any_json(project, body):
    client = Client()
    response = client.post(
        f"/api/projects/{project.slug}/classifications",
        json.dumps(body),
        content_type="application/json",
    )
    assert_refusal_is_clear(response)


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
)
def test_classification_endpoint_never_fails_on_any_bytes(project, raw, content_type):
    response = Client().generic(
        "POST", f"/api/projects/{project.slug}/classifications", raw, content_type=content_type
    )
    assert_refusal_is_clear(response)


@FUZZ
@given(
    exclude=st.text(max_size=60),
    extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)
def test_next_endpoint_never_fails_on_any_query(project, exclude, extra):
    response = Client().get(f"/api/projects/{project.slug}/next", {"exclude": exclude, **extra})
    assert_refusal_is_clear(response)


@FUZZ
@given(
    method=st.sampled_from(["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"]),
    path=st.sampled_from(["next", "classifications"]),
    slug=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
)
def test_wrong_methods_and_unknown_projects_are_refused_cleanly(project, method, path, slug):
    response = Client().generic(method, f"/api/projects/{slug}/{path}")
    assert response.status_code in (404, 405)
    if method != "HEAD":
        assert "error" in response.json()
