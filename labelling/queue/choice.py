"""Where the next subject is chosen: from the project's ranked queue in Redis when it can answer
(labelling/queue/redis_queue.py), else from SQL; a cold queue is built in the background
(labelling/queue/builder.py) while SQL answers."""

import random

from django.conf import settings

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
) -> list[dict]:
    """Up to `count` subjects for this volunteer, best first, as {id, image_url}.

    From the project's queue in Redis when it can answer (redis_queue.py), else from SQL. Either
    way `count` are drawn at random from the best `count + top_few - 1` the volunteer has not
    classified, so that concurrent volunteers spread out.
    """
    rng = rng or random
    wanted = count + top_few - 1
    found = redis_queue.next_subjects(
        project_id=project.pk,
        version=project.serving_version,
        volunteer_id=volunteer_id,
        wanted=wanted,
        exclude_ids=exclude_ids,
    )
    if found == redis_queue.COLD:
        builder.build_soon(project.pk, project.serving_version)
    if not isinstance(found, list):
        found = list(
            _unclassified(project, volunteer_id, exclude_ids)
            .order_by("-priority", "id")
            .values_list("id", "image")[:wanted]
        )
    chosen = sorted(rng.sample(range(len(found)), min(count, len(found))))
    return [
        {"id": found[index][0], "image_url": f"{settings.MEDIA_URL}{found[index][1]}"}
        for index in chosen
    ]


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

    One of the `top_few` best is chosen at random, so that concurrent volunteers spread out.
    `exclude_ids` leaves out subjects the client already holds (the one on screen, the prefetched one).
    """
    candidates = _unclassified(project, volunteer.pk if volunteer else None, exclude_ids)
    best = list(candidates.order_by("-priority", "id")[:top_few])
    if not best:
        return None
    return (rng or random).choice(best)
