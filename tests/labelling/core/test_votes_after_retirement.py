"""Votes after retirement (labelling/core/votes.py, `counted`): stored as raw classifications,
marked, and counted nowhere — not in N or the vote counts, not toward retirement, not in the
volunteers' reliability, not in training or the retraining trigger, not in any export's counts."""

import csv
import io

import pytest
from django.core.management import call_command

from labelling.catalogue import exports
from labelling.core import votes
from labelling.crowd import crowd_selectors, reliability
from labelling.loop import model_selectors
from labelling.models import Classification, SubjectStatus, VolunteerReliability
from labelling.volunteer import submission
from tests.labelling.catalogue.test_catalogue_export import volunteers, weigh

pytestmark = pytest.mark.django_db

FEATURED_BAR = {"smooth-or-featured": "featured", "bar": "bar"}


def vote(project, volunteer, subject, key: str, path: str):
    """One vote by the one-statement path (PostgreSQL) or the ORM's (the embedded SQLite
    default's)."""
    arguments = dict(
        project=project,
        volunteer=volunteer,
        subject_id=subject.pk,
        annotations=FEATURED_BAR,
        idempotency_key=key,
    )
    if path == "orm":
        tree = submission.project_tree(project=project)
        return submission._submit_through_orm(**arguments, tree=tree)
    return submission.classification_submit(**arguments)


@pytest.mark.parametrize("path", ["sql", "orm"])
def test_a_vote_after_retirement_is_stored_and_counts_nowhere(make_project, path):
    project = make_project(
        slug="late",
        subjects=2,
        retirement_limit=1,
        retrain_after_new_votes=2,
        retrain_minimum_labelled_subjects=1,
    )
    subject, other = project.subjects.order_by("pk")
    first, late = volunteers(2, "late")
    weigh(project, late, 1.0)
    VolunteerReliability.objects.filter(volunteer=late).update(untrusted=True)
    vote(project, first, subject, "first", path)
    subject.refresh_from_db()
    assert subject.status == SubjectStatus.RETIRED
    classification, created = vote(project, late, subject, "late", path)

    # Stored and marked, in the raw classifications and their export.
    assert created and classification.after_retirement
    assert Classification.objects.filter(subject=subject).count() == 2
    raw = list(csv.DictReader(io.StringIO("".join(exports.classifications_csv(project=project)))))
    assert sorted(row["after_retirement"] for row in raw) == ["0", "1"]

    # N, vote counts and classification_count: the first vote only, and so when rebuilt.
    subject.refresh_from_db()
    assert subject.classification_count == 1 and subject.untrusted_count == 0
    assert subject.vote_counts == {"smooth-or-featured": {"featured": 1}, "bar": {"bar": 1}}
    assert votes.subject_recount(subject=subject) == subject.vote_counts
    rebuilt = votes.subject_counts_rebuild(subject=subject)
    assert rebuilt.classification_count == 1

    # The crowd's reads: weighted, trusted and untrusted counts; reliability's votes.
    ids = [subject.pk]
    weights = crowd_selectors.vote_weights(project=project)
    weighted = crowd_selectors.weighted_vote_counts(
        project=project, subject_ids=ids, weights=weights
    )
    assert weighted[subject.pk]["smooth-or-featured"] == {"featured": pytest.approx(0.9)}
    assert crowd_selectors.untrusted_counts(project=project, subject_ids=ids) == {}
    assert crowd_selectors.trusted_vote_counts(project=project, subject_ids=ids)[subject.pk] == (
        subject.vote_counts
    )
    _, voters, _, _, per_voter = reliability.project_votes(
        project=project, tree=submission.project_tree(project=project)
    )
    assert voters == [first.pk] and per_voter.tolist() == [1]

    # Training and the retraining trigger (two new votes due; the late one is not one).
    training = model_selectors.training_set_for_project(project=project)
    assert training.subject_ids == [subject.pk]
    assert training.counts["smooth-or-featured"].tolist() == [[0, 1]]
    assert not model_selectors.retraining_due(project=project)
    vote(project, first, other, "second", path)
    assert model_selectors.retraining_due(project=project)

    # The exports' counts: the catalogue's N and the vote-count export.
    catalogue = exports.catalogue_csv(project=project)
    rows = [
        r
        for r in csv.DictReader(io.StringIO("".join(catalogue)))
        if r["subject_id"] == str(subject.pk)
    ]
    assert {row["question"]: row["N"] for row in rows} == {"smooth-or-featured": "1", "bar": "1"}
    assert rows[0]["featured:weighted_votes"] == "0.9"
    counts = list(csv.DictReader(io.StringIO("".join(exports.vote_counts_csv(project=project)))))
    row = next(r for r in counts if r["subject_id"] == str(subject.pk))
    assert (row["classifications"], row["smooth-or-featured:N"]) == ("1", "1")


def test_rebuild_vote_counts_takes_late_votes_out_of_counts_kept_before_the_rule(make_project):
    project = make_project(slug="before-the-rule", subjects=1, retirement_limit=1)
    subject = project.subjects.get()
    first, late = volunteers(2, "before")
    vote(project, first, subject, "first", "sql")
    vote(project, late, subject, "late", "sql")
    # As the counts stood before the rule: the late vote counted.
    project.subjects.filter(pk=subject.pk).update(
        classification_count=2,
        vote_counts={"smooth-or-featured": {"featured": 2}, "bar": {"bar": 2}},
    )
    output = io.StringIO()
    call_command("rebuild_vote_counts", project.slug, stdout=output, verbosity=0)
    assert "1 subjects changed" in output.getvalue()
    subject.refresh_from_db()
    assert subject.classification_count == 1
    assert subject.vote_counts == {"smooth-or-featured": {"featured": 1}, "bar": {"bar": 1}}
    assert Classification.objects.filter(subject=subject).count() == 2  # nothing stored is lost
