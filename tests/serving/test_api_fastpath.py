"""The API's fast path (starling/api_fastpath.py) answers next and submit as Django would, and leaves
every other request to Django.

Each request is sent as gunicorn sends it, to the fast path with a stand-in for Django that fails
the test when called ("must be answered here"), or one that records the call ("must be Django's").
What the fast path answers is compared with what Django's own handler answers for the same
request: the status, every header, and the answer's fields.
"""

import io
import json
from contextlib import contextmanager

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client, override_settings

from labelling.models import Classification, Volunteer
from starling.api_fastpath import ApiFastPath

pytestmark = pytest.mark.django_db


@contextmanager
def connections_kept():
    """As Django's test client: the test's transaction keeps its connection across requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def environ_for(method, path, cookies, body=b"", query="", **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "HTTP_COOKIE": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "CONTENT_LENGTH": str(len(body)),
    }
    if method == "POST":
        environ["CONTENT_TYPE"] = "application/json"
    environ.update(headers)
    return environ


def send(app, environ):
    """(status, headers as a sorted list, JSON answer or raw bytes)."""
    started = {}
    with connections_kept():
        body = b"".join(
            app(environ, lambda status, headers, *_: started.update(s=status, h=headers))
        )
    try:
        answer = json.loads(body)
    except ValueError:
        answer = body
    return int(started["s"].split()[0]), sorted(started["h"]), answer


def not_django(environ, start_response):
    pytest.fail(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} fell through to Django")


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        start_response("299 Django", [])
        return [b""]


@pytest.fixture
def django_handler():
    return WSGIHandler()  # Django alone, its middleware built from the current settings


@pytest.fixture
def cookies(project):
    """A volunteer in the steady state: a session holding its volunteer, and the CSRF cookie."""
    client = Client()
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200
    return {name: client.cookies[name].value for name in ("sessionid", "csrftoken")}


def vote(subject, key):
    body = {"subject": subject.pk, "answers": {"smooth-or-featured": "smooth"}}
    return json.dumps(body | {"idempotency_key": key}).encode()


def submit(project, cookies, body, **headers):
    headers = {"HTTP_X_CSRFTOKEN": cookies.get("csrftoken", "")} | headers
    return environ_for(
        "POST", f"/api/projects/{project.slug}/classifications", cookies, body, **headers
    )


def without_length(headers):
    return [(name, value) for name, value in headers if name != "Content-Length"]


def test_next_is_answered_here_with_django_s_status_headers_and_fields(
    project, cookies, django_handler
):
    fast = ApiFastPath(not_django)
    for query in ("", "count=3", "exclude=1,2", "count=0", "exclude=x"):
        path = f"/api/projects/{project.slug}/next"
        here = send(fast, environ_for("GET", path, cookies, query=query))
        there = send(django_handler, environ_for("GET", path, cookies, query=query))
        assert here[0] == there[0] and without_length(here[1]) == without_length(there[1]), query
        assert set(here[2]) == set(there[2]), query
        if "error" in here[2]:
            assert here[2] == there[2]


def test_a_submit_is_answered_here_stored_once_and_its_refusals_are_django_s(
    project, cookies, django_handler
):
    fast = ApiFastPath(not_django)
    first, second, third = project.subjects.order_by("pk")[:3]
    here = send(fast, submit(project, cookies, vote(first, "k1")))
    there = send(django_handler, submit(project, cookies, vote(second, "k2")))
    assert here[0] == there[0] == 201 and without_length(here[1]) == without_length(there[1])
    assert here[2]["subject"] == first.pk and here[2]["created"] is True
    assert set(here[2]) == set(there[2])
    replay = send(fast, submit(project, cookies, vote(first, "k1")))
    assert replay[0] == 200 and replay[2]["id"] == here[2]["id"]
    assert Classification.objects.count() == 2
    first.refresh_from_db()
    assert first.classification_count == 1
    refusals = [
        (vote(third, "k1"), {}),  # the key of another subject: 409
        (vote(first, "k9"), {}),  # the same subject again: 409
        (b"{not json", {}),
        (json.dumps({"subject": third.pk}).encode(), {}),
        (json.dumps({"subject": 10**9, "answers": {}, "idempotency_key": "k8"}).encode(), {}),
    ]
    for body, headers in refusals:
        here = send(fast, submit(project, cookies, body, **headers))
        there = send(django_handler, submit(project, cookies, body, **headers))
        assert here[0] == there[0] and here[0] >= 400, body
        assert here[2] == there[2] and without_length(here[1]) == without_length(there[1]), body
    assert Classification.objects.count() == 2


@pytest.mark.parametrize(
    "case",
    [
        "no cookies",
        "no CSRF header",
        "a wrong CSRF token",
        "another origin",
        "a host Django refuses",
        "an address that is not a slug",
        "an address the fast path does not serve",
        "a body that is not JSON (a form may carry its own token)",
        "a body without a length",
    ],
)
def test_what_is_not_the_steady_state_is_left_to_django(project, cookies, case):
    recorder = Recorder()
    subject = project.subjects.first()
    environ = {
        "no cookies": submit(project, {}, vote(subject, "a"), HTTP_X_CSRFTOKEN="x" * 32),
        "no CSRF header": submit(project, cookies, vote(subject, "a"), HTTP_X_CSRFTOKEN=""),
        "a wrong CSRF token": submit(
            project, cookies, vote(subject, "a"), HTTP_X_CSRFTOKEN="y" * 32
        ),
        "another origin": submit(project, cookies, vote(subject, "a"), HTTP_ORIGIN="http://evil"),
        "a host Django refuses": submit(project, cookies, vote(subject, "a"), HTTP_HOST="evil"),
        "an address that is not a slug": environ_for("GET", "/api/projects/a.b/next", cookies),
        "a body that is not JSON (a form may carry its own token)": submit(
            project, cookies, vote(subject, "a"), CONTENT_TYPE="application/x-www-form-urlencoded"
        ),
        "a body without a length": submit(project, cookies, vote(subject, "a"), CONTENT_LENGTH=""),
        "an address the fast path does not serve": environ_for(
            "GET", f"/api/projects/{project.slug}/nex", cookies
        ),
    }[case]
    assert send(ApiFastPath(recorder), environ)[0] == 299
    assert len(recorder.calls) == 1 and Classification.objects.count() == 0


def test_a_signed_in_volunteer_is_left_to_django(project, volunteer):
    client = Client()
    client.force_login(volunteer.user)
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200
    signed_in = {name: client.cookies[name].value for name in ("sessionid", "csrftoken")}
    recorder = Recorder()
    environ = environ_for("GET", f"/api/projects/{project.slug}/next", signed_in)
    assert send(ApiFastPath(recorder), environ)[0] == 299


def test_the_same_origin_is_answered_here_and_https_as_django_answers_it(project, cookies):
    https = {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    }
    first, second = project.subjects.order_by("pk")[:2]
    over_https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_ORIGIN": "https://testserver"}
    with override_settings(**https):
        fast, django_handler, recorder = ApiFastPath(not_django), WSGIHandler(), Recorder()
        here = send(fast, submit(project, cookies, vote(first, "s1"), **over_https))
        there = send(django_handler, submit(project, cookies, vote(second, "s2"), **over_https))
        assert here[0] == there[0] == 201 and without_length(here[1]) == without_length(there[1])
        assert ("Strict-Transport-Security", "max-age=3600; includeSubDomains; preload") in here[1]
        plain = submit(project, cookies, vote(first, "s3"), HTTP_ORIGIN="http://testserver")
        assert send(ApiFastPath(recorder), plain)[0] == 299  # Django redirects it to HTTPS
        no_origin = submit(project, cookies, vote(first, "s4"), HTTP_X_FORWARDED_PROTO="https")
        assert send(ApiFastPath(recorder), no_origin)[0] == 299  # Django checks the Referer
    same_origin = submit(project, cookies, vote(second, "s2"), HTTP_ORIGIN="http://testserver")
    assert send(ApiFastPath(not_django), same_origin)[0] == 200  # a replay, answered here


def test_a_submit_over_the_rate_limit_is_refused_as_django_refuses_it(
    project, cookies, settings, django_handler
):
    settings.RATE_LIMIT_SUBMITS_PER_VOLUNTEER = 1
    first, second = project.subjects.order_by("pk")[:2]
    fast = ApiFastPath(not_django)
    assert send(fast, submit(project, cookies, vote(first, "r1")))[0] == 201
    here = send(fast, submit(project, cookies, vote(second, "r2")))
    there = send(django_handler, submit(project, cookies, vote(second, "r2")))
    assert here[0] == there[0] == 429 and here[2] == there[2]
    assert dict(here[1]).keys() == dict(there[1]).keys() and "Retry-After" in dict(here[1])


@pytest.mark.django_db(transaction=True)  # the vote's foreign key is checked when it commits
def test_a_deleted_volunteer_is_handed_to_django_which_clears_the_session(
    project, cookies, django_handler
):
    Volunteer.objects.all().delete()
    subject = project.subjects.first()
    status, headers, answer = send(
        ApiFastPath(django_handler), submit(project, cookies, vote(subject, "g"))
    )
    assert status == 409 and "no longer exists" in answer["error"]
    assert any(name == "Set-Cookie" and "sessionid=" in value for name, value in headers)
