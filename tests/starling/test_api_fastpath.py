"""The API's fast path (starling/api_fastpath.py) answers next and submit as Django would, and leaves
every other request to Django.

Each request is sent as gunicorn sends it, to the fast path with a stand-in for Django that fails
the test when called ("must be answered here"), or one that records the call ("must be Django's").
What the fast path answers is compared with what Django's own handler answers for the same
request: the status, every header, and the answer's fields.
"""

import io
import json
import logging

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.middleware.csrf import (
    CSRF_ALLOWED_CHARS,
    CSRF_SECRET_LENGTH,
    CSRF_TOKEN_LENGTH,
    InvalidTokenFormat,
    _check_token_format,
    _does_token_match,
    get_token,
)
from django.test import Client, override_settings
from django.utils.crypto import get_random_string

from labelling.models import Classification, Volunteer
from labelling.volunteer import api
from starling.api_fastpath import REVIEWED_MIDDLEWARE, ApiFastPath
from tests.deployed import connections_kept

pytestmark = pytest.mark.django_db


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


def next_of(project, cookies, **headers):
    return environ_for("GET", f"/api/projects/{project.slug}/next", cookies, **headers)


def test_middleware_is_the_list_the_fast_path_was_reviewed_against():
    # A middleware added, removed or moved does something to next and submit that the fast path
    # may not do: review starling/api_fastpath.py against it, then update REVIEWED_MIDDLEWARE.
    assert django_settings.MIDDLEWARE == REVIEWED_MIDDLEWARE


@pytest.mark.parametrize(
    "changed",
    [
        {"API_FAST_PATH": False},
        {"MIDDLEWARE": [*REVIEWED_MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]},
        {"MIDDLEWARE": REVIEWED_MIDDLEWARE[:-1]},
    ],
    ids=["switched off", "a middleware added", "a middleware removed"],
)
def test_switched_off_or_under_other_middleware_every_request_goes_to_django(
    project, cookies, changed
):
    subject = project.subjects.first()
    with override_settings(**changed):
        recorder = Recorder()
        fast = ApiFastPath(recorder)
        for environ in (next_of(project, cookies), submit(project, cookies, vote(subject, "o"))):
            assert send(fast, environ)[0] == 299
    assert len(recorder.calls) == 2 and sum(fast.answered.values()) == 0
    assert send(ApiFastPath(not_django), next_of(project, cookies))[0] == 200  # as deployed


@pytest.mark.parametrize(
    "changed",
    [{"CSRF_USE_SESSIONS": True}, {"SESSION_SAVE_EVERY_REQUEST": True}],
    ids=lambda changed: next(iter(changed)),
)
def test_a_csrf_secret_in_the_session_or_a_session_saved_every_time_is_left_to_django(
    project, cookies, changed, settings
):
    for name, value in changed.items():
        setattr(settings, name, value)
    recorder = Recorder()
    subject = project.subjects.first()
    for environ in (next_of(project, cookies), submit(project, cookies, vote(subject, "c"))):
        assert send(ApiFastPath(recorder), environ)[0] == 299
    assert len(recorder.calls) == 2 and Classification.objects.count() == 0


def test_a_forwarded_host_is_left_to_django(project, cookies, settings):
    settings.USE_X_FORWARDED_HOST = True
    recorder = Recorder()
    subject = project.subjects.first()
    forwarded = {"HTTP_X_FORWARDED_HOST": "testserver"}
    for environ in (
        next_of(project, cookies, **forwarded),
        submit(project, cookies, vote(subject, "h"), **forwarded),
    ):
        assert send(ApiFastPath(recorder), environ)[0] == 299
    assert len(recorder.calls) == 2


@pytest.mark.parametrize("csrf_cookie", [None, "short", "!" * CSRF_SECRET_LENGTH])
def test_a_next_without_a_well_formed_csrf_cookie_is_left_to_django_which_sets_one(
    project, cookies, django_handler, csrf_cookie
):
    without = {"sessionid": cookies["sessionid"]}
    if csrf_cookie is not None:
        without["csrftoken"] = csrf_cookie
    recorder = Recorder()
    assert send(ApiFastPath(recorder), next_of(project, without))[0] == 299
    status, headers, _ = send(ApiFastPath(django_handler), next_of(project, without))
    assert status == 200
    assert any(name == "Set-Cookie" and "csrftoken=" in value for name, value in headers)


def test_a_body_over_the_upload_limit_is_left_to_django_which_refuses_it(
    project, cookies, settings, django_handler
):
    body = vote(project.subjects.first(), "big")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1
    recorder = Recorder()
    assert send(ApiFastPath(recorder), submit(project, cookies, body))[0] == 299
    assert send(ApiFastPath(django_handler), submit(project, cookies, body))[0] == 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)  # at the limit: answered here
    assert send(ApiFastPath(not_django), submit(project, cookies, body))[0] == 201
    assert Classification.objects.count() == 1


@pytest.mark.parametrize("endpoint", ["next", "submit"])
def test_an_exception_in_a_fast_path_answer_is_a_logged_500_as_django_s(
    project, cookies, django_handler, monkeypatch, caplog, endpoint
):
    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    name = {"next": "next_subject_payload", "submit": "submit_classification"}[endpoint]
    monkeypatch.setattr(api, name, broken)  # the view and the fast path both call it
    environ = {
        "next": lambda: next_of(project, cookies),
        "submit": lambda: submit(project, cookies, vote(project.subjects.first(), "e")),
    }[endpoint]
    with caplog.at_level(logging.ERROR, logger="django.request"):
        here = send(ApiFastPath(not_django), environ())
        there = send(django_handler, environ())
    assert here[0] == there[0] == 500
    assert here[2] == {"error": "Internal server error: try again"}
    # Both logged the failure with its traceback, as Django logs it.
    failures = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(failures) == 2 and all(record.exc_info for record in failures)
    assert all(
        record.getMessage().startswith("Internal Server Error: /api/") for record in failures
    )
    # The same security headers; Django's default 500 page is HTML where the fast path's answer is
    # the API's JSON error (starling/urls.py has no handler500).
    differ = {"Content-Type", "Content-Length", "Vary"}
    assert [h for h in here[1] if h[0] not in differ] == [h for h in there[1] if h[0] not in differ]


def csrf_tokens(secret: str) -> dict[str, str]:
    """Header values the fast path must judge as Django's CSRF check does, for the cookie `secret`."""
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = secret
    other = get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)
    other_request = HttpRequest()
    other_request.META["CSRF_COOKIE"] = other
    return {
        "the secret": secret,
        "the secret masked": get_token(request),
        "another secret": other,
        "another secret masked": get_token(other_request),
        "malformed": "!" * CSRF_SECRET_LENGTH,
        "too short": secret[:-1],
        "empty": "",
    }


def test_django_s_private_csrf_helpers_still_behave_as_the_fast_path_relies_on(cookies):
    secret = cookies["csrftoken"]
    tokens = csrf_tokens(secret)
    assert len(tokens["the secret masked"]) == CSRF_TOKEN_LENGTH != len(secret)
    for name in ("the secret", "the secret masked", "another secret", "another secret masked"):
        _check_token_format(tokens[name])  # well formed: no exception
    for name in ("malformed", "too short", "empty"):
        with pytest.raises(InvalidTokenFormat):
            _check_token_format(tokens[name])
    assert _does_token_match(tokens["the secret"], secret)
    assert _does_token_match(tokens["the secret masked"], secret)
    assert not _does_token_match(tokens["another secret"], secret)
    assert not _does_token_match(tokens["another secret masked"], secret)


def test_the_fast_path_accepts_exactly_the_csrf_tokens_django_accepts(
    project, cookies, django_handler
):
    answers = {"smooth-or-featured": "smooth"}
    unknown = json.dumps({"subject": 10**9, "answers": answers, "idempotency_key": "t"}).encode()
    for name, token in csrf_tokens(cookies["csrftoken"]).items():
        environ = submit(project, cookies, unknown, HTTP_X_CSRFTOKEN=token)
        here = send(ApiFastPath(django_handler), environ)
        there = send(django_handler, submit(project, cookies, unknown, HTTP_X_CSRFTOKEN=token))
        assert here[0] == there[0] == (404 if name.startswith("the secret") else 403), name
        assert here[2] == there[2], name  # Django's refusal names the problem
        if name == "malformed":
            assert "invalid characters" in here[2]["error"]
        recorder = Recorder()
        send(ApiFastPath(recorder), submit(project, cookies, unknown, HTTP_X_CSRFTOKEN=token))
        assert len(recorder.calls) == (0 if name.startswith("the secret") else 1), name
