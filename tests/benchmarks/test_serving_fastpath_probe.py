"""The fast-path probe (benchmarks/fastpath_probe_app.py) does the work production does, so its CPU
figures compare like with like: a submit it answers is stored and counted, a next gives a subject,
a wrong CSRF token stores nothing, and a client without a session is left to Django."""

import io
import json

import pytest
from django.conf import settings
from django.test import Client

from benchmarks import fastpath_probe_app
from labelling.models import Classification

pytestmark = pytest.mark.django_db


def call(method, path, cookies, body=b"", csrf_header=None):
    """The probe called as gunicorn calls it: (status code, headers, JSON answer)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "HTTP_COOKIE": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
    }
    if csrf_header is not None:
        environ["HTTP_X_CSRFTOKEN"] = csrf_header
    started = {}
    answer = b"".join(
        fastpath_probe_app.application(
            environ, lambda status, headers, *_: started.update(status=status, headers=headers)
        )
    )
    return int(started["status"].split()[0]), dict(started["headers"]), json.loads(answer)


@pytest.fixture
def volunteer_cookies(project):
    """A volunteer's cookies after their first next through Django (session and CSRF cookie)."""
    client = Client()
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200
    return {
        name: client.cookies[name].value
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    }


def submit_body(subject, key="probe-1"):
    return json.dumps(
        {"subject": subject.pk, "answers": {"smooth-or-featured": "smooth"}, "idempotency_key": key}
    ).encode()


def test_a_submit_through_the_probe_is_stored_and_counted(project, volunteer_cookies):
    subject = project.subjects.order_by("pk").first()
    csrf = volunteer_cookies[settings.CSRF_COOKIE_NAME]
    path = f"/api/projects/{project.slug}/classifications"
    status, _, answer = call("POST", path, volunteer_cookies, submit_body(subject), csrf)
    assert status == 201 and answer["created"] is True and answer["subject"] == subject.pk
    stored = Classification.objects.get()
    assert stored.pk == answer["id"] and stored.annotations == {"smooth-or-featured": "smooth"}
    subject.refresh_from_db()
    assert subject.classification_count == 1
    assert subject.vote_counts == {"smooth-or-featured": {"smooth": 1}}
    replay = call("POST", path, volunteer_cookies, submit_body(subject), csrf)
    assert replay[0] == 200 and replay[2]["id"] == answer["id"]
    assert Classification.objects.count() == 1


def test_the_probe_refuses_a_wrong_csrf_token_and_stores_nothing(project, volunteer_cookies):
    subject = project.subjects.first()
    path = f"/api/projects/{project.slug}/classifications"
    for token in ("x" * 32, "not a token"):
        status, _, answer = call("POST", path, volunteer_cookies, submit_body(subject), token)
        assert status == 403 and "CSRF" in answer["error"]
    assert Classification.objects.count() == 0


def test_the_probe_answers_next_with_a_subject_of_the_project(project, volunteer_cookies):
    status, headers, answer = call("GET", f"/api/projects/{project.slug}/next", volunteer_cookies)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["subject"]["id"] in set(project.subjects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)  # Django's handler closes the connection after a request
def test_a_client_without_a_session_is_left_to_django(project):
    status, headers, answer = call("GET", f"/api/projects/{project.slug}/next", {})
    assert status == 200 and answer["subject"] is not None
    assert "Set-Cookie" in headers  # Django's path: it gave the new client its cookies


def test_the_probe_hides_an_unpublished_project_as_the_api_does(make_project, volunteer_cookies):
    hidden = make_project(slug="hidden", subjects=1, is_published=False)
    status, _, answer = call("GET", f"/api/projects/{hidden.slug}/next", volunteer_cookies)
    assert status == 404 and "hidden" in answer["error"]
