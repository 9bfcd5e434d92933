"""Staff sign-in is throttled (django-axes); every page carries a Content-Security-Policy
(django-csp) that its own HTML obeys: no inline script, no inline style; every JSON answer of the
API carries a policy that allows nothing (starling/middleware.py)."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client

from tests.deployed import DeployedClient
from tests.labelling.staff.test_dashboard import scored_project, staff_urls  # noqa: F401

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_staff_sign_in_is_throttled_after_repeated_failures(staff, client_class):
    attacker = client_class(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(attacker, "staff", "wrong-password")
        assert response.status_code == 200 and "_auth_user_id" not in attacker.session
    locked = sign_in(attacker, "staff", "wrong-password")
    assert locked.status_code == 429
    # Locked out now: even the right password is refused, with a page that says why.
    refused = sign_in(attacker, "staff", "staff-password-1")
    assert refused.status_code == 429 and "_auth_user_id" not in attacker.session
    text = refused.content.decode()
    assert "Too many failed sign-ins" in text and "staff" in text
    assert f"{settings.AXES_FAILURE_LIMIT} failed attempts" in text

    # The lock is for that username from that address: staff elsewhere still sign in.
    elsewhere = client_class(REMOTE_ADDR="198.51.100.9")
    assert sign_in(elsewhere, "staff", "staff-password-1").status_code == 302
    assert elsewhere.session["_auth_user_id"] == str(staff.pk)


def test_a_successful_sign_in_resets_the_failure_count(staff, client_class):
    client = client_class(REMOTE_ADDR="203.0.113.8")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "staff", "wrong-password")
    assert sign_in(client, "staff", "staff-password-1").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "staff", "wrong-password").status_code == 200


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style elements and attributes,
    event-handler attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._script_without_src = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            kind = attributes.get("type", "text/javascript")
            self._script_without_src = "src" not in attributes and "json" not in kind
        if tag == "style":
            self.found.append("<style> element")
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")

    def handle_data(self, data):
        if self._script_without_src and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_without_src = False


def page_urls(project) -> list[str]:
    subject = project.subjects.first()
    volunteer_pages = [
        "/",
        f"/projects/{project.slug}/classify/",
        "/me/",
        LOGIN,
        "/accounts/signup/",
        "/accounts/password/",
        "/accounts/password/reset/",
    ]
    return volunteer_pages + [
        url
        for url in staff_urls(project, subject)
        if not url.endswith(("/retrain/", "/exclude/", "/lift/"))  # POST only
    ]


def test_every_page_sends_a_content_security_policy_its_html_obeys(scored_project, staff):  # noqa: F811
    staff.is_superuser = True  # the admin pages too
    staff.save()
    client = DeployedClient()  # the pages as served: Django behind the fast path
    client.force_login(staff)
    checked = 0
    for url in page_urls(scored_project):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.get("Content-Security-Policy", "")
        directives = dict(
            (part.split(" ", 1) + [""])[:2] for part in re.split(r";\s*", policy) if part
        )
        assert directives.get("script-src") == "'self'", (url, policy)
        assert directives.get("style-src") == "'self'", (url, policy)
        assert directives.get("frame-ancestors") == "'none'", (url, policy)
        assert "unsafe" not in policy, (url, policy)
        if response["Content-Type"].startswith("text/html"):
            parser = InlineCode()
            parser.feed(response.content.decode())
            assert parser.found == [], (url, parser.found)
            checked += 1
    assert checked >= 8


def test_api_answers_carry_a_policy_that_allows_nothing_and_set_up_no_messages(
    scored_project,  # noqa: F811
    client_class,
):
    client = client_class()
    slug = scored_project.slug
    answers = [
        client.get(f"/api/projects/{slug}"),
        client.get(f"/api/projects/{slug}/next?count=2"),
        client.get("/api/schema"),
        client.get("/api/nowhere"),  # the JSON 404
        client.post(f"/api/projects/{slug}/classifications", {}, content_type="application/json"),
        client.get(f"/api/projects/{slug}/next?count=2"),  # the session holds its volunteer now
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 404, 400, 200]
    if isinstance(client, DeployedClient):  # the last two are the fast path's
        assert client.answered_here == 2
    for answer in answers:
        assert answer["Content-Type"] == "application/json"
        assert answer["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        # The security headers the pages get, the API keeps.
        assert answer["X-Content-Type-Options"] == "nosniff"
        assert answer["X-Frame-Options"] == "DENY"
        if answer.wsgi_request is not None:  # Django's test client shows the request
            assert not hasattr(answer.wsgi_request, "_messages")
    page = client.get(f"/projects/{slug}/classify/")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    if page.wsgi_request is not None:
        assert hasattr(page.wsgi_request, "_messages")
