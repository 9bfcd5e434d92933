"""Volunteer reliability in the app: a round weighs every volunteer and stores it, a hostile one is
flagged, and staff's exclusions take a volunteer's votes out of training counts, retirement and the
weighted export at once — and put them back when lifted — without touching a raw classification."""

import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client

from labelling.catalogue import exports
from labelling.crowd import crowd_selectors, exclusions, reliability
from labelling.models import (
    Classification,
    Membership,
    Role,
    Subject,
    SubjectStatus,
    VolunteerExclusion,
    VolunteerReliability,
)
from labelling.volunteer import accounts, submission

SMOOTH = {"smooth-or-featured": "smooth"}
BARRED = {"smooth-or-featured": "featured", "bar": "bar"}


def crowd_votes(project, subjects, volunteers, *, hostile=()):
    """Honest volunteers give each subject its answer (smooth for even positions, barred for odd),
    but for one subject each; hostile ones the other answer, always."""
    for number, volunteer in enumerate(volunteers):
        for position, subject in enumerate(subjects):
            truth = position % 2 == 0
            if volunteer in hostile or position == number:  # an honest slip
                truth = not truth
            submission.classification_submit(
                project=project,
                volunteer=volunteer,
                subject_id=subject.pk,
                annotations=SMOOTH if truth else BARRED,
                idempotency_key=f"{volunteer.pk}-{subject.pk}",
            )


def anonymous(count: int):
    return [accounts.volunteer_create_anonymous() for _ in range(count)]


def raw_classifications(project):
    return list(
        Classification.objects.filter(project=project)
        .order_by("pk")
        .values_list("pk", "subject_id", "volunteer_id", "annotations", "created_at")
    )


@pytest.mark.django_db
def test_a_round_weighs_every_volunteer_and_flags_a_hostile_one(make_project):
    project = make_project(subjects=30, retirement_limit=20)
    subjects = list(Subject.objects.filter(project=project).order_by("pk"))
    volunteers = anonymous(7)
    crowd_votes(project, subjects, volunteers, hostile=volunteers[6:])

    weights = reliability.reliability_update(project=project)

    rows = {row.volunteer_id: row for row in VolunteerReliability.objects.filter(project=project)}
    hostile = rows[volunteers[6].pk]
    # Opposite at the root, always "bar" below it: hostile or careless, never honest.
    assert hostile.flagged and hostile.untrusted and hostile.kind != "honest"
    assert hostile.weight < 0.05 and hostile.classifications == 30
    assert hostile.agreement["smooth-or-featured"] < 0.2
    assert all(not rows[v.pk].flagged and rows[v.pk].weight > 0.9 for v in volunteers[:6])
    assert weights.flagged == 1
    # The round's counts: the hostile volunteer's "featured" on an even subject weighs ~nothing.
    even = weights.vote_counts[subjects[10].pk]["smooth-or-featured"]
    assert even["smooth"] == pytest.approx(
        sum(rows[v.pk].weight for v in volunteers[:6]) - rows[volunteers[0].pk].weight * 0
    )
    assert even.get("featured", 0) < 0.05
    assert crowd_selectors.least_reliable(project=project)[0].volunteer_id == volunteers[6].pk


@pytest.mark.django_db
def test_an_exclusion_stops_a_volunteers_votes_counting_everywhere_until_it_is_lifted(
    make_project, staff
):
    project = make_project(subjects=8, retirement_limit=4)
    subjects = list(Subject.objects.filter(project=project).order_by("pk"))
    volunteers = anonymous(4)
    crowd_votes(project, subjects, volunteers)
    assert all(s.status == SubjectStatus.RETIRED for s in Subject.objects.filter(project=project))
    reliability.reliability_update(project=project)
    before = raw_classifications(project)
    excluded = volunteers[1]

    exclusions.volunteer_exclude(project=project, volunteer_id=excluded.pk, by=staff, reason="test")

    # Retirement: 3 trusted votes of 4 needed, so every subject is back in the queue ...
    for subject in Subject.objects.filter(project=project):
        assert (subject.untrusted_count, subject.status) == (1, SubjectStatus.ACTIVE)
    # ... and a new vote from the excluded volunteer does not retire one; a trusted vote does.
    new_subject = make_project_subject(project)
    crowd_votes(project, [new_subject], volunteers[:3])
    new_subject.refresh_from_db()
    assert (new_subject.classification_count, new_subject.untrusted_count) == (3, 1)
    assert new_subject.status == SubjectStatus.ACTIVE
    # Training counts and the weighted export: the volunteer's votes weigh nothing.
    weights = reliability.reliability_update(project=project)
    assert weights.weights[excluded.pk] == 0.0
    first = subjects[0]
    assert sum(weights.vote_counts[first.pk]["smooth-or-featured"].values()) == pytest.approx(
        sum(weights.weights[v.pk] for v in volunteers if v != excluded)
    )
    row = catalogue_row(project, first, "smooth-or-featured")
    assert row["N"] == "4" and float(row["N_weighted"]) == pytest.approx(
        sum(weights.weights[v.pk] for v in volunteers if v != excluded), abs=1e-3
    )
    assert VolunteerReliability.objects.get(project=project, volunteer=excluded).untrusted

    exclusions.volunteer_exclusion_lift(project=project, volunteer_id=excluded.pk, by=staff)

    for subject in Subject.objects.filter(project=project).exclude(pk=new_subject.pk):
        assert (subject.untrusted_count, subject.status) == (0, SubjectStatus.RETIRED)
    weights = reliability.reliability_update(project=project)
    assert weights.weights[excluded.pk] > 0.9
    row = catalogue_row(project, first, "smooth-or-featured")
    assert float(row["N_weighted"]) == pytest.approx(sum(weights.weights.values()), abs=1e-3)
    record = VolunteerExclusion.objects.get(project=project, volunteer=excluded)
    assert (record.excluded_by, record.lifted_by, record.reason) == (staff, staff, "test")
    assert record.lifted_at >= record.excluded_at
    # Nothing already stored changed: the raw classifications are as they were.
    assert raw_classifications(project)[: len(before)] == before


def make_project_subject(project):
    from labelling.catalogue import imports
    from tests.conftest import png_bytes

    return imports.subject_import_image(project=project, name="late.png", data=png_bytes(99))


def catalogue_row(project, subject, question) -> dict:
    text = "".join(exports.catalogue_csv(project=project))
    rows = csv.DictReader(io.StringIO(text))
    return next(r for r in rows if r["subject_id"] == str(subject.pk) and r["question"] == question)


@pytest.mark.django_db
def test_the_volunteer_list_and_its_actions_are_for_the_projects_team(
    make_project, staff, volunteer
):
    project = make_project(subjects=4)
    crowd_votes(project, list(Subject.objects.filter(project=project)), anonymous(3))
    reliability.reliability_update(project=project)
    target = VolunteerReliability.objects.filter(project=project).first().volunteer_id
    url = f"/staff/projects/{project.slug}/volunteers/"
    assert Client().get(url).status_code == 302  # to the login page

    other = Client()
    other.force_login(volunteer.user)  # not a member: the project is not revealed
    assert other.get(url).status_code == 404
    assert other.post(f"{url}{target}/exclude/", {"reason": "x"}).status_code == 404
    Membership.objects.create(project=project, user=volunteer.user, role=Role.RESEARCHER)
    assert other.get(url).status_code == 200  # a researcher reads the list, changes nothing
    refused = other.post(f"{url}{target}/exclude/", {"reason": "x"})
    assert refused.status_code == 403 and "collaborator role" in refused.content.decode()
    assert not VolunteerExclusion.objects.exists()

    client = Client()
    client.force_login(staff)
    page = client.get(url).content.decode()
    assert f'data-volunteer="{target}"' in page
    assert client.post(f"{url}{target}/exclude/", {"reason": "spam"}).status_code == 302
    assert "excluded" in client.get(url).content.decode()
    again = client.post(f"{url}{target}/exclude/", follow=True).content.decode()
    assert "is already excluded" in again
    assert client.post(f"{url}{target}/lift/").status_code == 302
    assert VolunteerExclusion.objects.get().lifted_by == staff
    missing = client.post(f"{url}999999/exclude/", follow=True).content.decode()
    assert "has no classifications in project" in missing


def test_an_address_is_kept_only_as_a_keyed_digest(settings):
    digest = accounts.address_digest("203.0.113.7")
    assert len(digest) == 32 and "203" not in digest
    assert (
        digest == accounts.address_digest("203.0.113.7") != accounts.address_digest("203.0.113.8")
    )
    settings.SECRET_KEY = "another key"
    assert accounts.address_digest("203.0.113.7") != digest
    assert accounts.address_digest("") == accounts.address_digest("unknown") == ""


@pytest.mark.django_db
def test_the_simulators_careless_volunteers_are_the_ones_a_round_flags(make_project):
    """The demo's simulated crowd (`simulate_volunteers --careless`): the volunteer pressing the
    first answer whatever the galaxy is flagged, the ones following the truth are not."""
    project = make_project(subjects=30, retirement_limit=20)
    for position, subject in enumerate(Subject.objects.filter(project=project).order_by("pk")):
        p = 0.95 if position % 2 else 0.05
        subject.metadata = {"truth": {"smooth-or-featured": p, "bar": 0.5}}
        subject.save(update_fields=["metadata"])
    call_command(
        "simulate_volunteers", project.slug, "--classifications", "150", "--volunteers", "6",
        "--careless", "1", stdout=io.StringIO(),
    )  # fmt: skip
    reliability.reliability_update(project=project)
    flagged = VolunteerReliability.objects.filter(project=project, flagged=True)
    assert [row.volunteer.session_key for row in flagged] == [f"simulated-{project.slug}-0-0"]
