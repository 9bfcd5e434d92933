"""The volunteers' API as the serving tests call it (next, submit), and the checks they share on the
queue in Redis and on a project's books."""

import json
import uuid

import redis

from labelling.core import votes
from labelling.models import Subject, SubjectStatus
from labelling.queue import redis_queue


def next_url(project, **query):
    return f"/api/projects/{project.slug}/next", query


def get_next(client, project, **query):
    url, params = next_url(project, **query)
    return client.get(url, params)


def submit(client, project, subject_id, answers=None, key=None):
    body = {
        "subject": subject_id,
        "answers": answers or {"smooth-or-featured": "smooth"},
        "idempotency_key": key or uuid.uuid4().hex,
    }
    return client.post(
        f"/api/projects/{project.slug}/classifications",
        json.dumps(body),
        content_type="application/json",
    )


def queue_is_built(project) -> bool:
    version = type(project).objects.get(pk=project.pk).serving_version
    client = redis.Redis.from_url(redis_queue.queue_redis_url())
    return bool(client.exists(f"starling:ready:{project.pk}:{version}"))


def selectors_key():
    from labelling.volunteer.api import SESSION_VOLUNTEER

    return SESSION_VOLUNTEER


def assert_books_exact(project):
    for subject in Subject.objects.filter(project=project):
        assert subject.vote_counts == votes.subject_recount(subject=subject)
        assert subject.classification_count == votes.counted(subject.classifications.all()).count()
        retired = subject.classification_count >= project.retirement_limit
        assert (subject.status == SubjectStatus.RETIRED) == retired


def django_capture_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)
