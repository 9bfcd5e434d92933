"""Each project's ranked queue in Redis, so that next-subject costs no database query.

Keys, per project p at serving version v (`Project.serving_version`):

    starling:queue:{p}:{v}            sorted set, active subject id -> priority
    starling:images:{p}:{v}           hash, subject id -> image path
    starling:ready:{p}:{v}            present once the two above were built from the database
    starling:seen:{p}:{v}:{volunteer} set of subject ids the volunteer classified; the member "0"
                                      (no subject has id 0) says the set was loaded from the database
    starling:cursor:{p}:{v}:{volunteer} where the run of seen subjects from the top ends
    starling:added:{p}:{v}            counts imports into a built queue (voids the cursors)

A lookup starts at the volunteer's cursor in the sorted set (O(log n) to reach it) and skips what
the volunteer's seen set holds, inside Redis in one round trip (NEXT_SCRIPT); it reads neither the
volunteer's history from the database once the seen set is warm, nor walks it again in Redis.
Anything missing (cold) or Redis unreachable: the caller answers from SQL. A vote never waits on Redis: the writes here happen after the vote's
statement committed, and a write that fails bumps `Project.serving_version`, so that no process
trusts the keys that missed it (they are rebuilt from the database under the new version).

The Lua scripts are in labelling/queue/scripts.py, the build from the database in
labelling/queue/builder.py, the choice of a volunteer's next subject in labelling/queue/choice.py.
"""

import logging
import threading
import time

import redis
from django.conf import settings
from django.db.models import F

from labelling.core.redis_scripts import ThreadScript
from labelling.models import Classification, Project
from labelling.queue.scripts import (
    CLASSIFIED_SCRIPT,
    COLD_QUEUE,
    COLD_SEEN,
    NEXT_SCRIPT,
    SCANNED_TOO_FAR,
)

logger = logging.getLogger(__name__)

SEEN_SENTINEL = "0"
SEEN_TTL_SECONDS = 6 * 3600
QUEUE_TTL_SECONDS = 7 * 24 * 3600
# How far down the queue one lookup may walk past subjects the volunteer has seen before SQL answers.
MAX_SCAN = 20_000
# After a failure, Redis is not tried again for this long (requests go straight to SQL).
RETRY_AFTER_SECONDS = 1.0
# next_subjects' answer when the project version's queue was never built (or expired).
COLD = "cold"

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_script = None
_classified_script = None
_unavailable_until = 0.0
_missed_writes = False
_last_bump: dict[int, float] = {}


def queue_redis_url() -> str | None:
    """STARLING_QUEUE_REDIS_URL, else the Redis of the default cache; None: no queue (SQL only)."""
    url = getattr(settings, "STARLING_QUEUE_REDIS_URL", "")
    if url:
        return url
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND", "").endswith("RedisCache"):
        return cache.get("LOCATION")
    return None


def redis_client() -> redis.Redis | None:
    """The client, or None while Redis is known to be unreachable or not configured."""
    global _client, _script, _classified_script
    if time.monotonic() < _unavailable_until:
        return None
    if _client is None:
        url = queue_redis_url()
        if not url:
            return None
        with _client_lock:
            if _client is None:
                timeout = settings.STARLING_QUEUE_REDIS_TIMEOUT_SECONDS
                client = redis.Redis.from_url(
                    url, socket_connect_timeout=timeout, socket_timeout=timeout
                )
                _script = ThreadScript(url=url, source=NEXT_SCRIPT, timeout_seconds=timeout)
                _classified_script = ThreadScript(
                    url=url, source=CLASSIFIED_SCRIPT, timeout_seconds=timeout
                )
                _client = client
    return _client


def redis_failed(action: str) -> None:
    global _unavailable_until
    _unavailable_until = time.monotonic() + RETRY_AFTER_SECONDS
    logger.warning("queue: Redis unavailable during %s; SQL answers for now", action, exc_info=True)


def reset() -> None:
    """Forget the client and the back-off (tests that start and stop their own Redis)."""
    global _client, _script, _classified_script, _unavailable_until, _missed_writes
    with _client_lock:
        _client, _script, _classified_script = None, None, None
        _unavailable_until, _missed_writes = 0.0, False


def project_keys(project_id: int, version: int) -> tuple[str, str, str]:
    base = f"{project_id}:{version}"
    return f"starling:ready:{base}", f"starling:queue:{base}", f"starling:images:{base}"


def _latest_key(project_id: int) -> str:
    return f"starling:latest-version:{project_id}"


def added_key(project_id: int, version: int) -> str:
    return f"starling:added:{project_id}:{version}"


def _cursor_key(project_id: int, version: int, volunteer_id: int) -> str:
    return f"starling:cursor:{project_id}:{version}:{volunteer_id}"


def _seen_key(project_id: int, version: int, volunteer_id: int) -> str:
    return f"starling:seen:{project_id}:{version}:{volunteer_id}"


def serving_version_bump(*, project_id: int) -> int:
    """Make every process drop this project's Redis keys (they are rebuilt under the new version).

    The new version is also written to Redis (best effort): a vote stored by a process that has not
    seen the bump yet (its project is re-read once a second) then lands in the new seen set too."""
    from labelling.core import snapshots

    Project.objects.filter(pk=project_id).update(serving_version=F("serving_version") + 1)
    version = Project.objects.values_list("serving_version", flat=True).get(pk=project_id)
    snapshots.forget()
    client = redis_client()
    if client is not None:
        try:
            client.set(_latest_key(project_id), version, ex=QUEUE_TTL_SECONDS)
        except redis.RedisError:
            redis_failed("publishing a new serving version")
    return version


# --- reads ---------------------------------------------------------------------------------------


def next_subjects(
    *,
    project_id: int,
    version: int,
    volunteer_id: int,
    wanted: int,
    exclude_ids: tuple[int, ...] = (),
    scattered: bool = False,
) -> list[tuple[int, str]] | str | None:
    """Up to `wanted` (subject id, image path) from the top of the queue that the volunteer has not
    classified, best first (`scattered`: at random from the whole queue, while a first model has
    yet to rank it); COLD when the queue is not built, None when Redis cannot answer: in both
    cases ask SQL."""
    client = redis_client()
    if client is None:
        return None
    ready, queue, images = project_keys(project_id, version)
    seen = _seen_key(project_id, version, volunteer_id)
    cursor = _cursor_key(project_id, version, volunteer_id)
    try:
        for _ in range(2):
            answer = _script(
                keys=[ready, queue, images, seen, cursor, added_key(project_id, version)],
                args=[wanted, MAX_SCAN, SEEN_TTL_SECONDS, 1 if scattered else 0, *exclude_ids],
            )
            if answer == COLD_SEEN:
                _seen_load(client, seen, cursor, project_id, volunteer_id)
                continue
            if answer == COLD_QUEUE:
                return COLD  # the caller has it built; SQL answers until then
            if answer == SCANNED_TOO_FAR:
                return None
            if _missed_writes:
                _check_recovered(project_id)
                return None
            return [
                (int(answer[index]), answer[index + 1].decode())
                for index in range(0, len(answer), 2)
            ]
    except redis.RedisError:
        redis_failed("next")
    return None


def _seen_load(client, seen: str, cursor: str, project_id: int, volunteer_id: int) -> None:
    """Fill the volunteer's seen set from the database (one query), then mark it complete."""
    subject_ids = list(
        Classification.objects.filter(project_id=project_id, volunteer_id=volunteer_id).values_list(
            "subject_id", flat=True
        )
    )
    pipeline = client.pipeline(transaction=True)
    pipeline.delete(cursor)
    for start in range(0, len(subject_ids), 10_000):
        pipeline.sadd(seen, *subject_ids[start : start + 10_000])
    pipeline.sadd(seen, SEEN_SENTINEL)
    pipeline.expire(seen, SEEN_TTL_SECONDS)
    pipeline.execute()


# --- writes --------------------------------------------------------------------------------------


def after_classification(
    *, project_id: int, version: int, volunteer_id: int, subject_id: int, retired: bool
) -> None:
    """After a vote committed: the volunteer has seen the subject; a retired subject leaves the queue.

    The seen set is written even when cold (without its sentinel it stays cold; a concurrent load
    from the database then adds the rest). A failure bumps the project's serving version."""
    global _missed_writes
    if queue_redis_url() is None:
        return  # no Redis at all (the embedded default): SQL answers every next
    client = redis_client()
    try:
        if client is None:
            raise redis.ConnectionError("Redis marked unavailable")
        _, queue, images = project_keys(project_id, version)
        seen = _seen_key(project_id, version, volunteer_id)
        _classified_script(
            keys=[seen, queue, images, _latest_key(project_id)],
            args=[
                subject_id,
                SEEN_TTL_SECONDS,
                1 if retired else 0,
                version,
                project_id,
                volunteer_id,
            ],
        )
    except redis.RedisError:
        if client is not None:
            redis_failed("a classification's queue update")
        _missed_writes = True
        # Once a second is enough while Redis is away: nobody can build the new version's keys
        # until it is back, and the first write after it is back bumps again (below).
        if (
            time.monotonic() - _last_bump.get(project_id, -RETRY_AFTER_SECONDS)
            >= RETRY_AFTER_SECONDS
        ):
            _last_bump[project_id] = time.monotonic()
            serving_version_bump(project_id=project_id)
        return
    _check_recovered(project_id)


def _check_recovered(project_id: int) -> None:
    """Redis answers again: writes this process missed may be absent from keys others trust."""
    global _missed_writes
    if _missed_writes:
        _missed_writes = False
        serving_version_bump(project_id=project_id)


def subject_added(*, project_id: int, version: int, subject_id: int, priority: float, image: str):
    """A newly imported subject joins a built queue (an unbuilt one picks it up when built)."""
    client = redis_client()
    ready, queue, images = project_keys(project_id, version)
    try:
        if client is None or not client.exists(ready):
            return
        pipeline = client.pipeline(transaction=True)
        pipeline.zadd(queue, {subject_id: priority})
        pipeline.hset(images, subject_id, image)
        pipeline.incr(added_key(project_id, version))  # voids the cursors: it may rank above them
        pipeline.expire(added_key(project_id, version), QUEUE_TTL_SECONDS)
        pipeline.execute()
    except redis.RedisError:
        redis_failed("an import's queue update")
        serving_version_bump(project_id=project_id)


def subjects_retired(*, project_id: int, subject_ids: list[int]) -> None:
    """Subjects retired outside a vote (model-aware retirement) leave the queue; a failure bumps
    the serving version, so that no process trusts the keys that still hold them."""
    if queue_redis_url() is None or not subject_ids:
        return
    version = Project.objects.values_list("serving_version", flat=True).get(pk=project_id)
    _, queue, images = project_keys(project_id, version)
    client = redis_client()
    try:
        if client is None:
            raise redis.ConnectionError("Redis marked unavailable")
        pipeline = client.pipeline(transaction=True)
        pipeline.zrem(queue, *subject_ids)
        pipeline.hdel(images, *subject_ids)
        pipeline.execute()
    except redis.RedisError:
        if client is not None:
            redis_failed("a retirement's queue update")
        serving_version_bump(project_id=project_id)


def volunteer_seen_forget(*, volunteer_id: int, project_ids) -> None:
    """The volunteer's history in these projects changed outside a vote (an anonymous volunteer's
    classifications joined their account): their seen sets are reloaded from the database at their
    next lookup. A failure bumps the projects' serving versions, as a missed vote's write does."""
    if queue_redis_url() is None or not project_ids:
        return
    versions = dict(Project.objects.filter(pk__in=project_ids).values_list("pk", "serving_version"))
    client = redis_client()
    try:
        if client is None:
            raise redis.ConnectionError("Redis marked unavailable")
        client.delete(
            *[
                _seen_key(project_id, version, volunteer_id)
                for project_id, version in versions.items()
            ],
            *[
                _cursor_key(project_id, version, volunteer_id)
                for project_id, version in versions.items()
            ],
        )
    except redis.RedisError:
        if client is not None:
            redis_failed("forgetting a volunteer's seen subjects")
        for project_id in versions:
            serving_version_bump(project_id=project_id)
