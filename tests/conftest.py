"""Shared fixtures: volunteers, staff, a small demo-like project with images."""

import io

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from labelling.catalogue import imports
from labelling.core import projects
from labelling.core.tree import AnswerNode, QuestionNode
from labelling.volunteer import accounts, submission

pytest_plugins = ["tests.worker", "tests.deployed", "tests.scheduling"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODEL_ROOT = tmp_path / "models"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def fresh_serving_state():
    """No Redis client, back-off or cached tree carried over from another test, before or after."""
    from labelling.core import snapshots
    from labelling.queue import builder

    builder.reset()
    snapshots.forget()
    yield
    builder.reset()
    snapshots.forget()


def png_bytes(seed: int, size: int = 16) -> bytes:
    """A small distinct PNG image."""
    image = Image.new("L", (size, size), color=seed % 256)
    image.putpixel((seed % size, (seed // size) % size), 255 - seed % 256)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# The web tests' small tree: a root and one follow-up question (the demo's galaxy tree is
# mlworker.questions.GALAXY_QUESTIONS).
TWO_QUESTION_TREE = [
    QuestionNode(
        key="smooth-or-featured",
        text="Is the galaxy simply smooth and rounded, or does it have features?",
        answers=(
            AnswerNode(key="smooth", text="Smooth", shortcut="s"),
            AnswerNode(key="featured", text="Featured or disk", shortcut="f", next_question="bar"),
        ),
    ),
    QuestionNode(
        key="bar",
        text="Is there a bar?",
        answers=(
            AnswerNode(key="bar", text="Bar", shortcut="b"),
            AnswerNode(key="no-bar", text="No bar", shortcut="n"),
        ),
    ),
]


def submit_votes(project, subject, volunteers, answers: dict, key_prefix: str) -> None:
    """Each volunteer classifies `subject` with the same answers (keys `<key_prefix>-<n>`)."""
    for number, volunteer in enumerate(volunteers):
        submission.classification_submit(
            project=project,
            volunteer=volunteer,
            subject_id=subject.pk,
            annotations=answers,
            idempotency_key=f"{key_prefix}-{number}",
        )


def ranked_by_a_model(project):
    """Record a round that keeps the priorities: the queue counts as ranked by a model from now on
    (before a first round, next draws from the whole pool)."""
    from labelling.core import snapshots
    from labelling.models import AcquisitionRound, ModelVersion, ModelVersionStatus

    version = ModelVersion.objects.create(
        project=project, number=1, status=ModelVersionStatus.READY
    )
    AcquisitionRound.objects.create(
        project=project, model_version=version, strategy="bald", batch_size=1, exploration_share=0
    )
    snapshots.forget()
    return project


@pytest.fixture
def make_project(db):
    def make(slug="galaxies", subjects=0, **settings_values):
        project = projects.project_create(
            slug=slug, title=slug.title(), questions=TWO_QUESTION_TREE, **settings_values
        )
        for index in range(subjects):
            imports.subject_import_image(
                project=project, name=f"{slug}-{index}.png", data=png_bytes(index + 1)
            )
        return project

    return make


@pytest.fixture
def project(make_project):
    return make_project(subjects=5)


@pytest.fixture
def volunteer(db):
    user = get_user_model().objects.create_user("volunteer", password="volunteer-password-1")
    return accounts.volunteer_get_or_create(user=user)


@pytest.fixture
def other_volunteer(db):
    user = get_user_model().objects.create_user("other", password="other-password-1")
    return accounts.volunteer_get_or_create(user=user)


@pytest.fixture
def staff(db):
    """A site administrator: the owner of every project (labelling/teams/permissions.py). The
    roles of a project's team are tested in tests/labelling/teams."""
    return get_user_model().objects.create_user(
        "staff", password="staff-password-1", is_staff=True, is_superuser=True
    )


# Any 32 letters or digits: Django's CSRF check compares the X-CSRFToken header with the cookie.
CSRF_TOKEN = "schemathesis0csrf0token000000000"


@pytest.fixture
def api_schema(db, fresh_serving_state):
    """schemathesis' view of `GET /api/schema`, calling the WSGI application production serves
    (starling.wsgi: the API's fast path in front of Django, every middleware and the CSRF check
    too) in process, inside the test's transaction: the handlers would otherwise close the
    connection at each request's start and end."""
    import schemathesis

    from tests.deployed import connections_kept, deployed_application

    with connections_kept():
        yield schemathesis.openapi.from_wsgi("/api/schema", deployed_application())


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium (Playwright downloads nothing here), with the network chatter switched off."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def csp_violations(page):
    """What the browser refused under the pages' Content-Security-Policy (console errors)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused
