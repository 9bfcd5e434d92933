import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from labelling.catalogue import imports
from labelling.core import projects
from labelling.core.tree import AnswerNode, QuestionNode
from labelling.models import Classification, Project, SubjectStatus
from tests.deployed import DeployedClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


def submit(client, project, subject_id, key="k", **extra):
    body = {
        "subject": subject_id,
        "answers": {"smooth-or-featured": "smooth"},
        "idempotency_key": key,
        **extra,
    }
    return client.post(
        f"/api/projects/{project.slug}/classifications",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value if "csrftoken" in client.cookies else "",
    )


def fast_path_answered(client) -> int | None:
    """How many of the client's requests the deployed fast path answered; None for Django's client."""
    return client.answered_here if isinstance(client, DeployedClient) else None


def volunteer_page(client, project) -> None:
    """The classify page (it sets the CSRF cookie), then a next: the session holds the volunteer, and
    through the deployed application the volunteer's next and submit are the fast path's."""
    client.get(f"/projects/{project.slug}/classify/")
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200


def test_an_api_post_without_the_csrf_token_is_refused_with_a_json_403(project, client_class):
    client = client_class(enforce_csrf_checks=True)
    subject = project.subjects.first()
    refused = client.post(
        f"/api/projects/{project.slug}/classifications",
        json.dumps(
            {
                "subject": subject.pk,
                "answers": {"smooth-or-featured": "smooth"},
                "idempotency_key": "a",
            }
        ),
        content_type="application/json",
    )
    assert refused.status_code == 403 and Classification.objects.count() == 0
    assert refused["Content-Type"] == "application/json"
    assert "expected the header X-CSRFToken" in refused.json()["error"]
    client.get(f"/projects/{project.slug}/classify/")  # the page sets the CSRF cookie
    assert submit(client, project, subject.pk).status_code == 201
    assert submit(client, project, subject.pk).status_code == 200  # a replay, in the steady state
    assert fast_path_answered(client) in (None, 1)


@pytest.mark.parametrize("path", ["retrain/", "upload/", "edit/"])
def test_staff_forms_need_the_csrf_token(project, staff, path, client_class):
    client = client_class(enforce_csrf_checks=True)
    client.force_login(staff)
    refused = client.post(f"/staff/projects/{project.slug}/{path}")
    assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    assert Project.objects.get(pk=project.pk).retrain_state == "idle"


def test_a_volunteer_cannot_classify_as_another(project, volunteer, other_volunteer, client_class):
    client = client_class()
    client.force_login(volunteer.user)
    client.get(f"/projects/{project.slug}/classify/")
    response = submit(client, project, project.subjects.first().pk, volunteer=other_volunteer.pk)
    assert (
        response.status_code == 400 and "Unknown field(s) ['volunteer']" in response.json()["error"]
    )
    assert submit(client, project, project.subjects.first().pk).status_code == 201
    assert Classification.objects.get().volunteer_id == volunteer.pk


def test_a_vote_on_a_retired_subject_is_kept_and_marked(project, client_class):
    subject = project.subjects.first()
    project.subjects.filter(pk=subject.pk).update(status=SubjectStatus.RETIRED)
    client = client_class()
    volunteer_page(client, project)
    response = submit(client, project, subject.pk)
    assert response.status_code == 201 and response.json()["after_retirement"] is True
    assert fast_path_answered(client) in (None, 1)


def test_submits_over_the_volunteer_limit_get_a_clear_429(project, settings, client_class):
    settings.RATE_LIMIT_SUBMITS_PER_VOLUNTEER = 3
    client = client_class()
    volunteer_page(client, project)
    subjects = list(project.subjects.all())
    statuses = [
        submit(client, project, s.pk, key=f"k{i}").status_code for i, s in enumerate(subjects[:4])
    ]
    assert statuses == [201, 201, 201, 429]
    refused = submit(client, project, subjects[4].pk, key="k9")
    assert "limit is 3 per minute" in refused.json()["error"] and int(refused["Retry-After"]) >= 1
    assert Classification.objects.count() == 3
    assert fast_path_answered(client) in (None, 5)  # the five submits


def test_submits_over_the_address_limit_get_a_429_whoever_sends_them(
    project, settings, client_class
):
    settings.RATE_LIMIT_SUBMITS_PER_ADDRESS = 2
    subjects = list(project.subjects.all())
    statuses = []
    for index in range(3):
        client = client_class()  # a new anonymous volunteer each time, same address
        volunteer_page(client, project)
        statuses.append(submit(client, project, subjects[index].pk).status_code)
        assert fast_path_answered(client) in (None, 1)
    assert statuses == [201, 201, 429]


def test_votes_go_through_when_the_rate_limit_cache_is_down(project, settings, client_class):
    # Django's test signals rebuild the cache handler when CACHES changes: a Redis nobody listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    client = client_class()
    volunteer_page(client, project)
    assert submit(client, project, project.subjects.first().pk).status_code == 201
    assert fast_path_answered(client) in (None, 1)


def test_user_supplied_text_is_escaped_on_every_page(make_project, staff, client_class):
    project = projects.project_create(
        slug="xss",
        title=f"Stars {XSS}",
        description=f"About {XSS}",
        questions=[
            QuestionNode(
                key="q",
                text=f"Question {XSS}",
                answers=(
                    AnswerNode(key="a", text=f"Yes {XSS}", shortcut="y"),
                    AnswerNode(key="b", text="No", shortcut="n"),
                ),
            )
        ],
    )
    from tests.conftest import png_bytes

    subject = imports.subject_import_image(
        project=project, name=f"{XSS}.png", data=png_bytes(3), metadata={"note": XSS}
    )
    pages = ["/", f"/projects/{project.slug}/classify/"]
    client = client_class()
    client.force_login(staff)
    pages += [
        f"/staff/projects/{project.slug}/",
        f"/staff/projects/{project.slug}/subjects/{subject.pk}/",
        f"/staff/projects/{project.slug}/edit/",
        "/staff/",
    ]
    for url in pages:
        content = client.get(url).content.decode()
        assert "<script>alert" not in content, url
    assert (
        "&lt;script&gt;"
        in client.get(f"/staff/projects/{project.slug}/subjects/{subject.pk}/").content.decode()
    )
    # The tree reaches the classify page as JSON inside json_script, escaped for HTML.
    assert (
        "\\u003Cscript\\u003E"
        in client_class().get(f"/projects/{project.slug}/classify/").content.decode()
    )


def test_production_settings_pass_the_deployment_checks(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "starling.example.org",
        "STARLING_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_with_the_demo_secret_key(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "false",
        "STARLING_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY is the built-in demo key" in result.stderr
