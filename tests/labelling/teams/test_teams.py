"""Project teams: starting a project, the members page and its record, the last owner, the staff
home's lists, a tester's run of an unpublished project, review before going public, and the
upgrade that keeps today's staff owners of today's projects."""

import importlib

import pytest
from django.apps import apps
from django.test import Client

from labelling.models import (
    Membership,
    MembershipChange,
    ModelVersion,
    Project,
    ProjectReview,
    Role,
)
from labelling.volunteer import volunteer_selectors
from tests.labelling.api_calls import get_next, submit
from tests.labelling.teams.conftest import make_account
from tests.labelling.teams.test_refusals import settings_form

pytestmark = pytest.mark.django_db


def members_page(team, account="owner") -> str:
    return (
        team.client(account).get(f"/staff/projects/{team.project.slug}/members/").content.decode()
    )


def test_an_ordinary_account_starts_a_project_and_owns_it(db):
    scientist = make_account("scientist")
    client = Client()
    client.force_login(scientist)
    home = client.get("/staff/").content.decode()
    assert "New project" in home and "No projects yet" in home
    project = Project(slug="birds", title="Birds", is_published=False)
    response = client.post("/staff/projects/new/", settings_form(project))
    assert response.status_code == 302
    membership = Membership.objects.get(project__slug="birds")
    assert (membership.user, membership.role) == (scientist, Role.OWNER)
    assert MembershipChange.objects.get(project__slug="birds").action == "created"
    assert 'data-project="birds"' in client.get("/staff/").content.decode()


def test_a_site_can_keep_project_creation_to_administrators(db, settings):
    settings.STARLING_PROJECT_CREATORS = "administrators"
    client = Client()
    client.force_login(make_account("scientist"))
    assert "New project" not in client.get("/staff/").content.decode()
    refused = client.get("/staff/projects/new/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert 'class="site-header"' in page  # the site's own styled page, not a bare "403 Forbidden"
    assert "Only site administrators start projects" in page


def test_owners_add_members_by_name_or_e_mail_and_every_change_is_listed(team):
    owner = team.client("owner")
    url = f"/staff/projects/{team.project.slug}/members/"
    make_account("carol")
    make_account("rhea")
    assert owner.post(url, {"name_or_email": "Carol", "role": "collaborator"}).status_code == 302
    assert (
        owner.post(url, {"name_or_email": "rhea@example.org", "role": "researcher"}).status_code
        == 302
    )
    roles = dict(
        Membership.objects.filter(project=team.project).values_list("user__username", "role")
    )
    assert roles["carol"] == "collaborator" and roles["rhea"] == "researcher"

    unknown = owner.post(url, {"name_or_email": "nobody", "role": "tester"})
    assert (
        unknown.status_code == 400
        and "No account with the user name &#x27;nobody&#x27;" in unknown.content.decode()
    )
    again = owner.post(url, {"name_or_email": "carol", "role": "tester"})
    assert again.status_code == 400 and "carol is already a collaborator" in again.content.decode()
    make_account("twin", email="rhea@example.org")
    shared = owner.post(url, {"name_or_email": "RHEA@example.org", "role": "tester"})
    assert "Several accounts use the e-mail" in shared.content.decode()

    carol = Membership.objects.get(project=team.project, user__username="carol").user_id
    owner.post(f"{url}{carol}/role/", {"role": "tester"})
    owner.post(f"{url}{carol}/remove/")
    assert not Membership.objects.filter(project=team.project, user_id=carol).exists()
    page = members_page(team, "researcher")  # the team and its record, for every member who sees it
    changes = page.split('id="team-changes"')[1]
    assert "owner removed carol (tester)." in changes
    assert "owner changed the role of carol from collaborator to tester." in changes
    assert "owner added rhea as researcher." in changes
    assert page.count("<form") == 1  # the sign-out: a researcher changes nothing here


def test_the_last_owner_can_be_neither_removed_nor_demoted(team):
    owner = team.users["owner"]
    url = f"/staff/projects/{team.project.slug}/members/{owner.pk}/"
    client = team.client("owner")
    for action, data in (("role/", {"role": "collaborator"}), ("remove/", {})):
        page = client.post(url + action, data, follow=True).content.decode()
        assert "owner is the last owner of &#x27;Galaxies&#x27;" in page
        assert Membership.objects.get(project=team.project, user=owner).role == Role.OWNER
    client.post(
        f"/staff/projects/{team.project.slug}/members/{team.users['collaborator'].pk}/role/",
        {"role": "owner"},
    )
    assert client.post(url + "role/", {"role": "researcher"}).status_code == 302
    assert Membership.objects.get(project=team.project, user=owner).role == Role.RESEARCHER


def test_the_staff_home_lists_the_accounts_projects_and_administrators_filter_all(
    team, make_project
):
    other = make_project("other-survey", subjects=1)
    researcher = team.client("researcher").get("/staff/").content.decode()
    assert 'data-project="galaxies"' in researcher and "other-survey" not in researcher
    assert "<td>researcher</td>" in researcher and "<td>owner</td>" in researcher  # role, owners
    outsider = team.client("outsider").get("/staff/").content.decode()
    assert "galaxies" not in outsider and "other-survey" not in outsider

    administrator = team.client("administrator")
    every = administrator.get("/staff/").content.decode()
    assert 'data-project="galaxies"' in every and 'data-project="other-survey"' in every
    ProjectReview.objects.create(project=other, requested_by=team.users["owner"])
    waiting = administrator.get("/staff/", {"show": "waiting"}).content.decode()
    assert 'data-project="other-survey"' in waiting and 'data-project="galaxies"' not in waiting
    assert "1 review request waiting" in waiting
    assert 'data-project="' not in administrator.get("/staff/", {"show": "mine"}).content.decode()
    bad = administrator.get("/staff/", {"show": "everything"})
    assert bad.status_code == 400 and "expected one of all, mine, waiting" in bad.content.decode()


def test_a_non_member_cannot_tell_a_project_from_one_that_does_not_exist(team):
    outsider = team.client("outsider")
    hidden = outsider.get(f"/staff/projects/{team.project.slug}/")
    missing = outsider.get("/staff/projects/no-such-project/")
    assert hidden.status_code == missing.status_code == 404
    assert "Galaxies" not in hidden.content.decode()
    refused = team.client("researcher").get(f"/staff/projects/{team.project.slug}/edit/")
    assert refused.status_code == 403
    assert (
        "you need the collaborator role (or owner); you are a researcher"
        in refused.content.decode()
    )


def test_a_tester_classifies_an_unpublished_project_that_no_one_else_sees(team):
    Project.objects.filter(pk=team.project.pk).update(is_published=False)
    tester = team.client("tester")
    page = tester.get(f"/projects/{team.project.slug}/classify/")
    assert page.status_code == 200 and 'id="unpublished-banner"' in page.content.decode()
    subject = get_next(tester, team.project).json()["subject"]
    assert submit(tester, team.project, subject["id"]).status_code == 201
    for client in (Client(), team.client("outsider")):
        assert client.get(f"/projects/{team.project.slug}/classify/").status_code == 404
        assert get_next(client, team.project).status_code == 404
    assert tester.get(f"/staff/projects/{team.project.slug}/preview/").status_code == 200
    assert tester.get(f"/staff/projects/{team.project.slug}/").status_code == 403


def test_a_project_goes_public_once_an_administrator_approves_the_owners_request(team):
    project = team.project
    Project.objects.filter(pk=project.pk).update(is_published=False)
    project.refresh_from_db()
    owner, administrator = team.client("owner"), team.client("administrator")
    published = owner.post(
        f"/staff/projects/{project.slug}/edit/", settings_form(project, is_published=True)
    )
    assert (
        published.status_code == 400
        and "A site administrator approves a project" in published.content.decode()
    )

    review = f"/staff/projects/{project.slug}/review/"
    owner.post(review, {"note": "Our first survey"})
    request = ProjectReview.objects.get(project=project)
    listed = administrator.get("/staff/reviews/").content.decode()
    assert 'data-project="galaxies"' in listed and "Our first survey" in listed
    unexplained = administrator.post(
        f"/staff/reviews/{request.pk}/decline/", {"reason": " "}, follow=True
    )
    assert "A declined review needs a reason" in unexplained.content.decode()
    administrator.post(
        f"/staff/reviews/{request.pk}/decline/", {"reason": "Add a field guide first."}
    )
    assert "Add a field guide first." in owner.get(review).content.decode()
    assert not Project.objects.get(pk=project.pk).is_published

    owner.post(review, {"note": "Guide added"})
    second = ProjectReview.objects.get(project=project, status="pending")
    assert administrator.post(f"/staff/reviews/{second.pk}/approve/").status_code == 302
    assert Project.objects.get(pk=project.pk).is_published
    assert "Galaxies" in [card["title"] for card in volunteer_selectors.project_cards()]
    # Approved once: its team may unpublish and publish it again.
    project.refresh_from_db()
    owner.post(f"/staff/projects/{project.slug}/edit/", settings_form(project, is_published=False))
    project.refresh_from_db()
    assert (
        owner.post(
            f"/staff/projects/{project.slug}/edit/", settings_form(project, is_published=True)
        ).status_code
        == 302
    )


def test_without_review_a_project_team_publishes_it_from_the_settings(team, settings):
    settings.STARLING_PROJECT_REVIEW = False
    project = team.project
    Project.objects.filter(pk=project.pk).update(is_published=False)
    project.refresh_from_db()
    response = team.client("collaborator").post(
        f"/staff/projects/{project.slug}/edit/", settings_form(project, is_published=True)
    )
    assert response.status_code == 302 and Project.objects.get(pk=project.pk).is_published
    asked = team.client("owner").post(f"/staff/projects/{project.slug}/review/", follow=True)
    assert "go public without review" in asked.content.decode()


def test_a_starting_model_comes_only_from_projects_whose_exports_the_account_may_take(
    team, make_project
):
    other = make_project("other-survey", subjects=1)
    ModelVersion.objects.create(project=other, number=1, status="ready", artefact_path="x")
    url = f"/staff/projects/{team.project.slug}/start/"
    assert "Other-Survey v1" not in team.client("collaborator").get(url).content.decode()
    Membership.objects.create(project=other, user=team.users["collaborator"], role=Role.RESEARCHER)
    assert "Other-Survey v1" in team.client("collaborator").get(url).content.decode()


def test_the_upgrade_makes_every_staff_account_an_owner_of_every_project(make_project):
    first, second = make_project("first"), make_project("second")
    staff = make_account("old-staff", is_staff=True)
    make_account("volunteer-only")
    upgrade = importlib.import_module("labelling.migrations.0014_staff_own_existing_projects")
    upgrade.staff_own_every_project(apps, None)
    owners = set(Membership.objects.values_list("project__slug", "user__username", "role"))
    assert owners == {("first", "old-staff", "owner"), ("second", "old-staff", "owner")}
    assert MembershipChange.objects.filter(member=staff, action="added").count() == 2
    assert set(ProjectReview.objects.values_list("project", "status")) == {
        (first.pk, "approved"), (second.pk, "approved"),
    }  # fmt: skip
