"""Accounts: sign-up, sign-in, password change and reset by mail (Django's test outbox stands in
for the console), and an anonymous volunteer's classifications carried into the account they
make or sign in to, with every subject's counts as they were."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from labelling.core import votes
from labelling.crowd import exclusions
from labelling.models import Classification, Subject, Volunteer, VolunteerExclusion
from labelling.volunteer import accounts, submission
from tests.labelling.api_calls import get_next, submit

pytestmark = pytest.mark.django_db
SIGN_UP = "/accounts/signup/"


def sign_up(client, username="ada", email="ada@example.org", password="a-long-passphrase-9"):
    return client.post(
        SIGN_UP,
        {"username": username, "email": email, "password1": password, "password2": password},
    )


def books(project) -> dict:
    """Each subject's stored counts, N per question and classifications."""
    return {
        subject.pk: (subject.vote_counts, subject.classification_count)
        for subject in Subject.objects.filter(project=project)
    }


def vote_anonymously(client, project, count: int) -> list[int]:
    """`count` classifications by the client's anonymous session, each answering both questions
    on the next subject it is given."""
    voted = []
    for _ in range(count):
        subject = get_next(client, project).json()["subject"]["id"]
        answers = {"smooth-or-featured": "featured", "bar": "bar"}
        assert submit(client, project, subject, answers).status_code == 201
        voted.append(subject)
    return voted


def test_a_visitor_signs_up_and_is_signed_in_at_once():
    client = Client()
    assert 'id="signup"' in client.get(SIGN_UP).content.decode()
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="ada")
    assert user.email == "ada@example.org" and not user.is_staff
    assert client.session["_auth_user_id"] == str(user.pk)
    assert "Welcome, ada" in client.get("/").content.decode()


def test_signing_up_twice_with_one_name_is_refused_with_a_clear_message():
    sign_up(Client())
    again = sign_up(Client(), username="Ada", email="another@example.org")
    assert again.status_code == 400
    assert "The user name &#x27;Ada&#x27; is taken: choose another" in again.content.decode()
    same_mail = sign_up(Client(), username="grace", email="ADA@example.org")
    assert "An account with the e-mail" in same_mail.content.decode()
    assert get_user_model().objects.count() == 1


def test_an_account_signs_in_and_changes_its_password():
    sign_up(Client())
    client = Client()
    signed_in = client.post(
        "/accounts/login/", {"username": "ada", "password": "a-long-passphrase-9"}
    )
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session
    changed = client.post(
        "/accounts/password/",
        {
            "old_password": "a-long-passphrase-9",
            "new_password1": "another-passphrase-7",
            "new_password2": "another-passphrase-7",
        },
    )
    assert changed.status_code == 302 and changed["Location"] == "/accounts/password/changed/"
    assert get_user_model().objects.get(username="ada").check_password("another-passphrase-7")


def test_a_forgotten_password_is_reset_through_the_link_in_the_mail():
    sign_up(Client())
    client = Client()
    sent = client.post("/accounts/password/reset/", {"email": "ada@example.org"})
    assert sent.status_code == 302
    assert "a link to choose a new password" in client.get(sent["Location"]).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.org"]
    assert "the Starling account ada" in mail.outbox[0].body
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]
    form = client.get(link, follow=True)  # Django swaps the token for a session key first
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-new-passphrase-3", "new_password2": "a-new-passphrase-3"},
    )
    assert done.status_code == 302
    fresh = Client()
    signed_in = fresh.post(
        "/accounts/login/", {"username": "ada", "password": "a-new-passphrase-3"}
    )
    assert signed_in.status_code == 302 and "_auth_user_id" in fresh.session
    reused = client.get(link, follow=True).content.decode()
    assert 'id="link-refused"' in reused


def test_an_anonymous_volunteers_12_votes_belong_to_the_account_made_after(make_project):
    project = make_project(subjects=15)
    client = Client()
    voted = vote_anonymously(client, project, 12)
    before = books(project)
    anonymous = Classification.objects.get(subject_id=voted[0]).volunteer

    assert sign_up(client).status_code == 302
    user = get_user_model().objects.get(username="ada")
    mine = Classification.objects.filter(volunteer__user=user)
    assert sorted(mine.values_list("subject_id", flat=True)) == sorted(voted)
    assert Volunteer.objects.get(user=user) == anonymous  # the same volunteer, now the account's
    assert books(project) == before
    assert '<strong id="volunteer-total">12</strong>' in client.get("/me/").content.decode()
    assert get_next(client, project).json()["subject"]["id"] not in voted


def test_signing_in_carries_the_votes_but_never_counts_one_subject_twice(make_project, volunteer):
    """The account already classified two of the subjects this browser classified anonymously:
    those stay two volunteers' votes, as they were counted; the other ten are the account's."""
    project = make_project(subjects=15)
    client = Client()
    voted = vote_anonymously(client, project, 12)
    anonymous = Classification.objects.get(subject_id=voted[0]).volunteer
    for subject_id in voted[:2]:
        submission.classification_submit(
            project=project,
            volunteer=volunteer,
            subject_id=subject_id,
            annotations={"smooth-or-featured": "smooth"},
            idempotency_key=f"elsewhere-{subject_id}",
        )
    exclusions.volunteer_exclude(project=project, volunteer_id=anonymous.pk, by=None, reason="spam")
    before = books(project)

    signed_in = client.post(
        "/accounts/login/", {"username": "volunteer", "password": "volunteer-password-1"}
    )
    assert signed_in.status_code == 302
    assert Classification.objects.filter(volunteer=volunteer).count() == 12
    kept = Classification.objects.filter(volunteer=anonymous).values_list("subject_id", flat=True)
    assert sorted(kept) == sorted(voted[:2])
    assert books(project) == before
    for subject in Subject.objects.filter(project=project):  # and the counts are still the votes'
        assert subject.vote_counts == votes.subject_recount(subject=subject)
    carried = VolunteerExclusion.objects.get(volunteer=volunteer, lifted_at__isnull=True)
    assert carried.reason == f"as anonymous volunteer {anonymous.pk}: spam"
    assert get_next(client, project).json()["subject"]["id"] not in voted


def test_a_claim_of_a_volunteer_that_is_not_anonymous_changes_nothing(volunteer, other_volunteer):
    claimed = accounts.volunteer_claim_anonymous(
        anonymous_id=other_volunteer.pk, user=volunteer.user
    )
    assert claimed is None
    assert Volunteer.objects.get(pk=other_volunteer.pk).user == other_volunteer.user
