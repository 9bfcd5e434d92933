"""The volunteer API's two hot endpoints, next and submit, answered in front of Django's handler.

A volunteer's loop is one submit and a third of a next. Profiled under load (`make bench-serving`),
most of their CPU was Django's request handling: request and response objects, the URL resolver
and the middleware chain (README, "Serving"). This WSGI wrapper answers those two endpoints for a
client in the steady state, calling the same functions as the views (labelling/volunteer/api.py).
Anything else goes to Django unchanged. That covers every other address, a new client, a signed-in
volunteer, a client without a well-formed CSRF cookie (Django sets one), a plain-HTTP request when
HTTPS is required, a host Django would refuse, a cross-origin or refused CSRF check, and a body that
is not a plain JSON upload. Each of these is a case Django answers itself: its redirect, its
cookies, its refusal.

What Django's middleware would do for such a request is done here, with Django's own functions
where it has them:
- the host against ALLOWED_HOSTS;
- the session from its signed cookie, through the same session store;
- CSRF for a submit: the Origin must be this site's own, or absent over plain HTTP, and the
  X-CSRFToken header must match the csrftoken cookie;
- the security headers Django's middleware sets on an API answer
  (tests/starling/test_api_fastpath.py compares them with Django's, header by header);
- request_started and request_finished, so database connections are kept or closed as Django
  keeps them.

It answers only while API_FAST_PATH is on and MIDDLEWARE is the list it was reviewed against
(REVIEWED_MIDDLEWARE): with a middleware added, removed or moved, Django answers every request until
this module does what the new list does and the list here is updated (tests/starling compares them).
Django's private CSRF helpers used here are pinned by tests of their behaviour there.
"""

import io
import json
import logging
import re
from collections import Counter
from http import HTTPStatus

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import signals
from django.http import QueryDict
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.middleware.csrf import (
    CSRF_SECRET_LENGTH,
    InvalidTokenFormat,
    _check_token_format,
    _does_token_match,
)
from django.utils.http import parse_header_parameters

from labelling.core.errors import StarlingError
from labelling.volunteer import api, ratelimit, submission
from starling.middleware import API_POLICY
from starling.sessions import SessionStore

logger = logging.getLogger("django.request")  # where Django logs a request's failure
SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # Django's <slug:…> converter
# Django's session middleware adds this once a view read the session.
VARY = [("Vary", "Cookie")]
# The middleware whose work on a next or a submit this module does (its docstring says what).
REVIEWED_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "starling.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "starling.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]


def switched_on() -> bool:
    """Whether the fast path answers at all: API_FAST_PATH is on and MIDDLEWARE is the reviewed list."""
    return settings.API_FAST_PATH and settings.MIDDLEWARE == REVIEWED_MIDDLEWARE


def security_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers Django's middleware sets on every API answer (SecurityMiddleware,
    XFrameOptionsMiddleware and starling.middleware's API policy)."""
    headers = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        value += "; includeSubDomains" if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS else ""
        value += "; preload" if settings.SECURE_HSTS_PRELOAD else ""
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        policy = policy if isinstance(policy, str) else ",".join(policy)
        headers.append(("Referrer-Policy", policy))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS.upper()))
    headers.append(("Content-Security-Policy", API_POLICY))
    return headers


class NotHere(Exception):
    """This request is Django's to answer."""


class ApiFastPath:
    """WSGI: next and submit for a client in the steady state; everything else to `django`."""

    def __init__(self, django):
        self.django = django
        self.headers = {secure: security_headers(secure) for secure in (False, True)}
        # How many requests were answered here, by endpoint ("next", "submit"): a tally the tests
        # read to show which requests the fast path answered (a dict increment per answer).
        self.answered = Counter()
        if settings.API_FAST_PATH and settings.MIDDLEWARE != REVIEWED_MIDDLEWARE:
            logger.warning(
                "MIDDLEWARE is not the list starling/api_fastpath.py was reviewed against "
                "(REVIEWED_MIDDLEWARE): Django answers every request, next and submit included"
            )

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/api/projects/"):
            return self.django(environ, start_response)  # the cheapest test for every other page
        try:
            secure, work = self.checked(environ)
        except NotHere:
            return self.django(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            status, payload, extra = work()
        except NotHere:
            status = None
        except Exception:
            logger.exception("Internal Server Error: %s", environ.get("PATH_INFO"))
            status, payload, extra = 500, {"error": "Internal server error: try again"}, []
        finally:
            signals.request_finished.send(sender=self.__class__)
        if status is None:
            return self.django(environ, start_response)
        self.answered["next" if environ["REQUEST_METHOD"] == "GET" else "submit"] += 1
        phrase = HTTPStatus(status).phrase
        if 400 <= status < 500:  # as Django's handler logs a refusal
            logger.warning("%s: %s", phrase, environ.get("PATH_INFO"))
        body = json.dumps(payload).encode()
        headers = [("Content-Type", api.JSON_TYPE), ("Content-Length", str(len(body)))]
        start_response(f"{status} {phrase}", headers + extra + self.headers[secure])
        return [body]

    def checked(self, environ):
        """(whether the request came over HTTPS, its work) once it is known to be ours: nothing
        has run yet. NotHere otherwise."""
        parts = environ.get("PATH_INFO", "").split("/")
        if len(parts) != 5 or parts[1] != "api" or parts[2] != "projects" or not switched_on():
            raise NotHere
        slug, name, method = parts[3], parts[4], environ.get("REQUEST_METHOD")
        if (name, method) not in (("next", "GET"), ("classifications", "POST")):
            raise NotHere
        if not SLUG.fullmatch(slug):
            raise NotHere  # Django's resolver answers
        secure = scheme(environ) == "https"
        if settings.SECURE_SSL_REDIRECT and not secure:
            raise NotHere  # Django redirects to HTTPS
        host = checked_host(environ)
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        volunteer_id = session_volunteer(cookies)
        csrf_secret = checked_csrf_cookie(cookies)
        if name == "next":
            return secure, lambda: self.next(environ, slug, volunteer_id)
        content_type, _ = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        if content_type != api.JSON_TYPE:
            raise NotHere  # a form may carry its own CSRF token, which Django reads first
        length = body_length(environ)
        check_csrf(environ, csrf_secret, secure, host)
        return secure, lambda: self.submit(environ, slug, volunteer_id, length)

    def next(self, environ, slug: str, volunteer_id: int):
        try:
            snapshot = api.project_for_volunteers(slug)
            query = QueryDict(environ.get("QUERY_STRING", ""))
            exclude_ids = api.parse_exclude(query.get("exclude", ""))
            count = api.parse_count(query.get("count"))
        except StarlingError as error:
            return refused(error, [])  # as the view, before it reads the session
        try:
            payload = api.next_subject_payload(
                snapshot, volunteer_id=volunteer_id, exclude_ids=exclude_ids, count=count
            )
        except StarlingError as error:
            return refused(error, VARY)
        return 200, payload, VARY

    def submit(self, environ, slug: str, volunteer_id: int, length: int):
        raw = environ["wsgi.input"].read(length)
        try:
            snapshot = api.project_for_volunteers(slug)
            body = api.parse_classification(raw)
        except StarlingError as error:
            return refused(error, [])  # as the view, before it reads the session
        try:
            status, payload, extra = api.submit_classification(
                snapshot,
                volunteer_id=volunteer_id,
                address=ratelimit.address_from_environ(environ),
                body=body,
            )
        except submission.VolunteerGone:
            # Nothing was stored; Django answers and clears the session's volunteer.
            environ["wsgi.input"] = io.BytesIO(raw)
            raise NotHere from None
        except StarlingError as error:
            return refused(error, VARY)
        return status, payload, extra + VARY


def refused(error: StarlingError, extra: list) -> tuple[int, dict, list]:
    return error.status, {"error": error.message}, extra


def scheme(environ) -> str:
    """As Django's request.scheme: the trusted proxy's header when configured, else WSGI's."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return environ.get("wsgi.url_scheme", "http")


def checked_host(environ) -> str:
    """The Host header when ALLOWED_HOSTS admits it (as Django's request.get_host); else NotHere,
    and Django refuses it."""
    host = environ.get("HTTP_HOST")
    if not host or settings.USE_X_FORWARDED_HOST:
        raise NotHere
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        raise NotHere
    return host


def session_volunteer(cookies: dict) -> int:
    """The volunteer of an anonymous session that already has one (api.session_volunteer_id);
    NotHere for anything else: no or a bad cookie, a signed-in session, a session to be saved."""
    key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not key or settings.SESSION_SAVE_EVERY_REQUEST:
        raise NotHere
    session = SessionStore(key).load()
    volunteer_id = api.stored_volunteer_id(session, None)
    if SESSION_KEY in session or volunteer_id is None:
        raise NotHere
    return volunteer_id


def checked_csrf_cookie(cookies: dict) -> str:
    """The csrftoken cookie's secret when Django would keep it as it is; NotHere otherwise: none
    (next's view sets one), one Django replaces (malformed, or an old masked one), or the secret
    kept in the session (CSRF_USE_SESSIONS)."""
    if settings.CSRF_USE_SESSIONS:
        raise NotHere
    secret = cookies.get(settings.CSRF_COOKIE_NAME, "")
    if len(secret) != CSRF_SECRET_LENGTH:
        raise NotHere
    try:
        _check_token_format(secret)
    except InvalidTokenFormat:
        raise NotHere from None
    return secret


def check_csrf(environ, secret: str, secure: bool, host: str) -> None:
    """Django's CSRF check for a request it would accept; NotHere for every other (Django then
    accepts a trusted origin or refuses with its message)."""
    origin = environ.get("HTTP_ORIGIN")
    own = f"{'https' if secure else 'http'}://{host}"
    if (origin is None and secure) or (origin is not None and origin != own):
        raise NotHere  # Django's Referer check, or a trusted origin, or its refusal
    token = environ.get(settings.CSRF_HEADER_NAME, "")
    try:
        _check_token_format(token)
    except InvalidTokenFormat:
        raise NotHere from None
    if not _does_token_match(token, secret):
        raise NotHere


def body_length(environ) -> int:
    """The upload's length, when it has one Django would read; else NotHere."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        raise NotHere from None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length < 0 or (limit is not None and length > limit):
        raise NotHere
    return length
