"""A project with its whole team: one account per role, an outsider and a site administrator."""

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from labelling.models import Membership, Project, Role

# Every kind of account a staff URL is asked by, weakest first.
ACCOUNTS = [
    "anonymous",
    "outsider",
    "tester",
    "researcher",
    "collaborator",
    "owner",
    "administrator",
]
ROLES = ["tester", "researcher", "collaborator", "owner"]


@dataclass
class Team:
    project: Project
    users: dict  # account name -> user (none for "anonymous")

    def client(self, account: str) -> Client:
        client = Client()
        if account != "anonymous":
            client.force_login(self.users[account])
        return client


def make_account(name: str, **fields):
    """An account `name` (password `<name>-password-1`, e-mail `<name>@example.org` unless given)."""
    fields.setdefault("email", f"{name}@example.org")
    return get_user_model().objects.create_user(name, password=f"{name}-password-1", **fields)


@pytest.fixture
def team(make_project) -> Team:
    project = make_project(subjects=3)
    users = {"outsider": make_account("outsider")}
    for role in ROLES:
        users[role] = make_account(role)
        Membership.objects.create(project=project, user=users[role], role=Role(role))
    users["administrator"] = make_account("administrator", is_superuser=True)
    return Team(project=project, users=users)
