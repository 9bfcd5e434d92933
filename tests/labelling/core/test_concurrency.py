"""20 volunteers voting at once on the same few subjects, with retries of the same keys."""

import random
import threading

import pytest
from django.db import connection
from django.db.models import Count

from labelling.core import votes
from labelling.core.errors import Conflict
from labelling.models import Classification, Subject
from labelling.volunteer import accounts, submission


@pytest.mark.django_db(transaction=True)
def test_concurrent_volunteers_store_every_acknowledged_classification_exactly_once(make_project):
    project = make_project(slug="crowd", subjects=4, retirement_limit=12)
    subject_ids = list(project.subjects.values_list("pk", flat=True))
    volunteers = [accounts.volunteer_get_or_create(session_key=f"crowd-{i}") for i in range(20)]
    acknowledged: list[tuple[int, int, int]] = []  # (volunteer, subject, classification id)
    refused: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(volunteers))

    def volunteer_session(volunteer, seed):
        rng = random.Random(seed)
        barrier.wait()
        try:
            for subject_id in rng.sample(subject_ids, len(subject_ids)):
                answers = rng.choice(
                    [
                        {"smooth-or-featured": "smooth"},
                        {"smooth-or-featured": "featured", "bar": "bar"},
                    ]
                )
                key = f"{volunteer.pk}-{subject_id}"
                for _attempt in range(rng.choice([1, 2, 3])):  # retries re-send the same key
                    try:
                        classification, _ = submission.classification_submit(
                            project=project,
                            volunteer=volunteer,
                            subject_id=subject_id,
                            annotations=answers,
                            idempotency_key=key,
                        )
                        with lock:
                            acknowledged.append((volunteer.pk, subject_id, classification.pk))
                    except Conflict as error:
                        with lock:
                            refused.append(error.message)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=volunteer_session, args=(v, i)) for i, v in enumerate(volunteers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not refused, refused[:3]
    stored = {
        (c.volunteer_id, c.subject_id): c.pk for c in Classification.objects.filter(project=project)
    }
    acknowledged_pairs = {(volunteer, subject): pk for volunteer, subject, pk in acknowledged}
    assert (
        stored == acknowledged_pairs
    )  # every acknowledgement stored, nothing unacknowledged stored
    assert len(stored) == 20 * 4
    assert (
        not Classification.objects.values("volunteer", "subject")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    for subject in Subject.objects.filter(project=project):
        assert subject.vote_counts == votes.subject_recount(subject=subject)
        assert subject.classification_count == 12  # the limit: later votes count nowhere
        assert subject.status == "retired"
        assert Classification.objects.filter(subject=subject, after_retirement=True).count() == 8
