"""Every state-changing staff action refuses an account without the right and changes nothing
stored: not a row of any table of the app or of the accounts, not a file. The same request by the
least role that has the right does change something (so the refusal is what kept it unchanged)."""

import io
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.urls import reverse

from labelling.crowd import exclusions
from labelling.models import Project, ProjectReview
from labelling.staff.forms import SETTINGS_FIELDS
from labelling.volunteer import submission
from tests.browser import TREE_TEXT
from tests.conftest import png_bytes
from tests.labelling.teams.conftest import ACCOUNTS
from tests.labelling.teams.test_permission_table import staff_routes

pytestmark = pytest.mark.django_db


def settings_form(project: Project, **changes) -> dict:
    """The settings form as the page posts it, with `changes`."""
    values = model_to_dict(project, fields=SETTINGS_FIELDS) | {"slug": project.slug}
    values |= {"questions": TREE_TEXT} | changes
    return {
        name: ("on" if value is True else "" if value is False else value)
        for name, value in values.items()
    }


def archive() -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("new.png", png_bytes(200))
    buffer.seek(0)
    buffer.name = "new.zip"
    return buffer


def classified(team, volunteer):
    submission.classification_submit(
        project=team.project,
        volunteer=volunteer,
        subject_id=team.project.subjects.first().pk,
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key="refusals",
    )


def excluded(team, volunteer):
    classified(team, volunteer)
    exclusions.volunteer_exclude(project=team.project, volunteer_id=volunteer.pk, by=None)


def unpublished(team, volunteer):
    Project.objects.filter(pk=team.project.pk).update(is_published=False)


def pending(team, volunteer):
    unpublished(team, volunteer)
    ProjectReview.objects.create(project=team.project, requested_by=team.users["owner"])


def starting_model(team, volunteer):
    Project.objects.filter(pk=team.project.pk).update(start_model={"kind": "version", "label": "x"})


# (action, url name, its arguments, the form, what to set up first, the least account allowed)
ACTIONS = [
    ("settings", "staff_edit", {}, lambda t: settings_form(t.project, title="Renamed"), None, "collaborator"),
    ("tree", "staff_edit", {}, lambda t: settings_form(t.project, questions="only: Only?\n  a [a] A\n  b [b] B"), None, "collaborator"),
    ("upload", "staff_upload", {}, lambda t: {"archive": archive()}, None, "collaborator"),
    ("guide", "staff_guide", {}, lambda t: {"tutorial_markdown": "New tutorial"}, None, "collaborator"),
    ("start model", "staff_start", {}, lambda t: {"action": "scratch"}, starting_model, "collaborator"),
    ("retrain", "staff_retrain", {}, lambda t: {}, None, "collaborator"),
    ("exclusion", "staff_volunteer_exclude", {"volunteer_id": "volunteer"}, lambda t: {"reason": "spam"}, classified, "collaborator"),
    ("lifting an exclusion", "staff_volunteer_lift", {"volunteer_id": "volunteer"}, lambda t: {}, excluded, "collaborator"),
    ("adding a member", "staff_members", {}, lambda t: {"name_or_email": "outsider", "role": "tester"}, None, "owner"),
    ("changing a role", "staff_member_role", {"user_id": "tester"}, lambda t: {"role": "owner"}, None, "owner"),
    ("removing a member", "staff_member_remove", {"user_id": "tester"}, lambda t: {}, None, "owner"),
    ("deleting the project", "staff_delete", {}, lambda t: {"confirm": t.project.slug}, None, "owner"),
    ("asking for review", "staff_review", {}, lambda t: {"note": "Ready"}, unpublished, "owner"),
    ("approving", "staff_review_approve", {"review_id": "review"}, lambda t: {}, pending, "administrator"),
    ("declining", "staff_review_decline", {"review_id": "review"}, lambda t: {"reason": "Not yet"}, pending, "administrator"),
    ("starting a project", "staff_project_new", {}, lambda t: settings_form(t.project, slug="another", is_published=False), None, "administrator"),
]  # fmt: skip


def stored() -> dict:
    """Every row of the app's and the accounts' tables, and every stored file."""
    models = [*apps.get_app_config("labelling").get_models(), get_user_model()]
    rows = {model._meta.label: list(model.objects.order_by("pk").values()) for model in models}
    rows["files"] = sorted(str(path) for path in Path(settings.MEDIA_ROOT).rglob("*"))
    return rows


@pytest.mark.parametrize("action", ACTIONS, ids=[action[0] for action in ACTIONS])
def test_an_action_is_refused_to_accounts_without_the_right_and_changes_nothing(
    team, volunteer, action, settings
):
    name, url_name, arguments, form, prepare, allowed = action
    settings.STARLING_PROJECT_CREATORS = "administrators"  # for "starting a project"
    if prepare:
        prepare(team, volunteer)
    references = {"volunteer": volunteer.pk, "tester": team.users["tester"].pk}
    references["review"] = ProjectReview.objects.values_list("pk", flat=True).first()
    kwargs = {key: references[value] for key, value in arguments.items()}
    in_project = "slug" in staff_routes()[url_name].pattern.regex.groupindex
    url = reverse(url_name, kwargs={"slug": team.project.slug, **kwargs} if in_project else kwargs)
    clients = {account: team.client(account) for account in ACCOUNTS[1:]}  # logins change rows
    before = stored()
    for account in ACCOUNTS[1 : ACCOUNTS.index(allowed)]:
        response = clients[account].post(url, form(team))
        expected = 404 if account == "outsider" and in_project else 403
        assert response.status_code == expected, (name, account, response.status_code)
        assert stored() == before, f"{name} refused to {account} changed what is stored"
    clients[allowed].post(url, form(team))
    assert stored() != before, f"{name} by {allowed} changed nothing: the test's form is wrong"
