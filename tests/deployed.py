"""The application production serves (starling.wsgi: the API's fast path in front of Django), called
in process as gunicorn calls it, behind django.test.Client's interface.

Django's own test client calls Django's handler directly, so its requests never reach the fast path,
and it skips the CSRF check. DeployedClient sends every request through `starling.wsgi.application`
and, unless told to enforce CSRF, does what the classify page does: it holds a csrftoken cookie and
sends its value in the X-CSRFToken header of every unsafe request.
"""

import sys
from collections import Counter
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.http import HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.test import Client
from django.utils.crypto import get_random_string

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


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


def deployed_application():
    from starling.wsgi import application

    return application


def fast_path_answers() -> int:
    """How many requests the deployed fast path has answered so far (next and submit)."""
    return sum(deployed_application().answered.values())


class DeployedHandler:
    """Calls the deployed WSGI application and returns its answer as Django's test client expects
    one: an HttpResponse with its cookies. `wsgi_request` is None (the request object stays inside
    the application)."""

    def __init__(self):
        self.application = deployed_application()
        self.answered_here = 0  # by the fast path
        self.answered_by_django = 0

    def __call__(self, environ):
        started = {}
        before = fast_path_answers()
        with connections_kept():
            result = self.application(
                environ, lambda status, headers, *_: started.update(status=status, headers=headers)
            )
            try:
                body = b"".join(result)
            finally:
                getattr(result, "close", lambda: None)()  # request_finished, as gunicorn calls it
        if fast_path_answers() > before:
            self.answered_here += 1
        else:
            self.answered_by_django += 1
        code, reason = started["status"].split(" ", 1)
        response = HttpResponse(b"" if environ["REQUEST_METHOD"] == "HEAD" else body)
        response.status_code, response.reason_phrase = int(code), reason
        del response["Content-Type"]
        for name, value in started["headers"]:
            if name.lower() == "set-cookie":
                response.cookies.load(value)
            else:
                response.headers[name] = value
        response.wsgi_request = None
        return response


class DeployedClient(Client):
    """django.test.Client's interface, answered by the deployed application (module docstring)."""

    def __init__(self, enforce_csrf_checks=False, **defaults):
        # A browser always names the host (Django's client leaves it to SERVER_NAME).
        super().__init__(enforce_csrf_checks, **{"HTTP_HOST": "testserver", **defaults})
        self.enforce_csrf_checks = enforce_csrf_checks
        self.handler = DeployedHandler()

    @property
    def answered_here(self) -> int:
        """How many of this client's requests the fast path answered."""
        return self.handler.answered_here

    def request(self, **request):
        if not self.enforce_csrf_checks and request["REQUEST_METHOD"] not in SAFE_METHODS:
            if settings.CSRF_COOKIE_NAME not in self.cookies:
                self.cookies[settings.CSRF_COOKIE_NAME] = get_random_string(
                    CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS
                )
            if not request.get("HTTP_X_CSRFTOKEN"):
                request["HTTP_X_CSRFTOKEN"] = self.cookies[settings.CSRF_COOKIE_NAME].value
        return super().request(**request)


@pytest.fixture(params=["django", "deployed"])
def client_class(request):
    """Django's test client (Django's handler, no CSRF check), then the deployed application."""
    return Client if request.param == "django" else DeployedClient


def _answered() -> Counter:
    wsgi = sys.modules.get("starling.wsgi")
    return Counter(wsgi.application.answered) if wsgi is not None else Counter()


_ANSWERED_BY_XDIST_WORKERS: Counter = Counter()


def pytest_sessionfinish(session):
    """Under pytest-xdist, each worker hands its count to the controller (`workeroutput`)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fast_path_answered"] = dict(_answered())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _ANSWERED_BY_XDIST_WORKERS.update(
        getattr(node, "workeroutput", {}).get("fast_path_answered", {})
    )


def pytest_terminal_summary(terminalreporter):
    """How many of the run's requests the deployed fast path answered, when any test called it
    (summed over the xdist workers)."""
    answered = _answered() + _ANSWERED_BY_XDIST_WORKERS
    if answered:
        terminalreporter.write_line(f"answered by the deployed fast path: {dict(answered)}")
