"""Where the next subject is chosen: from the project's ranked queue in Redis when it can answer
(labelling/queue/redis_queue.py), else from SQL; a cold queue is built in the background
(labelling/queue/builder.py) while SQL answers."""

import random

from django.conf import settings

from labelling.core import selectors
from labelling.models import (
    Classification,
    Project,
    Subject,
    SubjectStatus,
    Volunteer,
)
from labelling.queue import builder, redis_queue


def subjects_next_for_volunteer(
    *,
    project: Project,
    volunteer_id: int,
    count: int = 1,
    exclude_ids: tuple[int, ...] = (),
    top_few: int = 5,
    rng: random.Random | None = None,
    model_ranked: bool = True,
) -> list[dict]:
    """Up to `count` subjects for this volunteer, best first, as {id, image_url}.

    From the project's queue in Redis when it can answer (redis_queue.py), else from SQL. Either
    way `count` are drawn at random from the best `count + top_few - 1` the volunteer has not
    classified, so that concurrent volunteers spread out. Until a model ranked the queue
    (`model_ranked` False: no round yet, priorities are random) they are drawn from the whole pool
    instead: one shared random order would pile every volunteer's votes on its first few subjects.
    A project's `random_request_share` of requests is answered so even once a model ranks it.
    """
    rng = rng or random
    wanted = count + top_few - 1
    if (
        model_ranked
        and project.random_request_share
        and rng.random() < project.random_request_share
    ):
        model_ranked = False  # Galaxy Zoo Enhanced's random checks: a random run of the pool
    found = redis_queue.next_subjects(
        project_id=project.pk,
        version=project.serving_version,
        volunteer_id=volunteer_id,
        wanted=wanted,
        exclude_ids=exclude_ids,
        scattered=not model_ranked,
    )
    if found == redis_queue.COLD:
        builder.build_soon(project.pk, project.serving_version)
    if not isinstance(found, list):
        candidates = _unclassified(project, volunteer_id, exclude_ids)
        found = (
            _scattered(candidates, wanted, rng)
            if not model_ranked
            else list(candidates.order_by("-priority", "id").values_list("id", "image")[:wanted])
        )
    chosen = sorted(rng.sample(range(len(found)), min(count, len(found))))
    return [
        {"id": found[index][0], "image_url": f"{settings.MEDIA_URL}{found[index][1]}"}
        for index in chosen
    ]


def _scattered(candidates, wanted: int, rng) -> list[tuple[int, str]]:
    """`wanted` of `candidates` from a random point of the priority order on (wrapping round):
    before the first model priorities are uniform random, so this is a random run of the pool that
    the priority index finds without sorting the whole pool."""
    start = rng.random()
    ordered = candidates.order_by("priority", "id").values_list("id", "image")
    found = list(ordered.filter(priority__gte=start)[:wanted])
    if len(found) < wanted:
        found += list(ordered.filter(priority__lt=start)[: wanted - len(found)])
    return found


def _unclassified(project: Project, volunteer_id: int | None, exclude_ids: tuple[int, ...]):
    """Active subjects of the project that the volunteer (if any) has not classified: the SQL path."""
    candidates = Subject.objects.filter(project=project, status=SubjectStatus.ACTIVE)
    if volunteer_id is not None:
        candidates = candidates.exclude(
            id__in=Classification.objects.filter(volunteer_id=volunteer_id, project=project).values(
                "subject_id"
            )
        )
    if exclude_ids:
        candidates = candidates.exclude(id__in=exclude_ids)
    return candidates


def subject_next_from_database(
    *,
    project: Project,
    volunteer: Volunteer | None,
    exclude_ids: tuple[int, ...] = (),
    top_few: int = 5,
    rng: random.Random | None = None,
) -> Subject | None:
    """The highest-priority active subject this volunteer has not classified.

    One of the `top_few` best is chosen at random, so that concurrent volunteers spread out (before
    the first model's round: one of a random run of the pool, as subjects_next_for_volunteer).
    `exclude_ids` leaves out subjects the client already holds (the one on screen, the prefetched one).
    """
    candidates = _unclassified(project, volunteer.pk if volunteer else None, exclude_ids)
    if not selectors.project_has_round(project_id=project.pk):
        ids = [pk for pk, _ in _scattered(candidates, top_few, rng or random)]
        candidates = candidates.filter(pk__in=ids)
    best = list(candidates.order_by("-priority", "id")[:top_few])
    if not best:
        return None
    return (rng or random).choice(best)
