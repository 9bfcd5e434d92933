"""Building a project version's queue in Redis from the database (redis_queue.py).

One builder at a time (a lock key); written under temporary keys and renamed into place, then the
subjects retired or imported while it was read are corrected.
"""

import logging
import threading
import time
from datetime import timedelta

import redis
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from labelling.models import Subject, SubjectStatus
from labelling.queue import redis_queue

logger = logging.getLogger(__name__)

BUILD_LOCK_SECONDS = 600
BUILD_CHUNK = 20_000
# A process asks for the build of a cold queue at most this often (the lock makes it one builder).
BUILD_RETRY_SECONDS = 5.0
# A subject retired or imported this long before a rebuild's read is re-checked after the swap.
REBUILD_MARGIN = timedelta(seconds=5)

_build_tried: dict[tuple[int, int], float] = {}


def reset() -> None:
    """Forget the Redis client, the back-off and the builds this process tried lately (tests that
    start and stop their own Redis)."""
    redis_queue.reset()
    _build_tried.clear()


def queue_build(*, project_id: int, version: int) -> bool:
    """Build the queue of one project version from the database (one builder at a time).

    Written under temporary keys and renamed into place, then subjects retired or imported while
    it was read are corrected. Returns False when another process is building it or Redis failed."""
    if redis_queue.redis_client() is None:
        return False
    # Its own client: a build's large writes may take longer than a request's timeout allows.
    client = redis.Redis.from_url(
        redis_queue.queue_redis_url(), socket_connect_timeout=1, socket_timeout=30
    )
    lock = f"starling:building:{project_id}:{version}"
    try:
        if not client.set(lock, "1", nx=True, ex=BUILD_LOCK_SECONDS):
            return False
        try:
            _build(client, project_id, version)
        finally:
            client.delete(lock)
        return True
    except redis.RedisError:
        redis_queue.redis_failed("a queue build")
        return False
    finally:
        client.close()


def build_soon(project_id: int, version: int) -> None:
    """Build a cold queue without holding up the request: in a thread of its own, unless the
    caller is inside a transaction (whose rows another connection could not see yet)."""
    if connection.in_atomic_block:
        queue_build(project_id=project_id, version=version)
        return
    now = time.monotonic()
    if now - _build_tried.get((project_id, version), -BUILD_RETRY_SECONDS) < BUILD_RETRY_SECONDS:
        return  # this process started (or tried) that build a moment ago
    _build_tried[(project_id, version)] = now

    def build() -> None:
        try:
            queue_build(project_id=project_id, version=version)
        except Exception:
            logger.exception("queue: building the queue of project %s failed", project_id)
        finally:
            connection.close()  # this thread's own database connection

    threading.Thread(target=build, name=f"queue-build-{project_id}", daemon=True).start()


def _build(client: redis.Redis, project_id: int, version: int) -> None:
    ready, ranked, images = redis_queue.project_keys(project_id, version)
    started = timezone.now()
    building_queue, building_images = f"{ranked}:building", f"{images}:building"
    client.delete(building_queue, building_images)
    for rows in _active_subjects(project_id):
        pipeline = client.pipeline(transaction=False)
        pipeline.zadd(building_queue, {pk: priority for pk, priority, _ in rows})
        pipeline.hset(building_images, mapping={pk: image for pk, _, image in rows})
        pipeline.execute()
    pipeline = client.pipeline(transaction=True)
    pipeline.delete(ranked, images)
    if client.exists(building_queue):
        pipeline.rename(building_queue, ranked)
        pipeline.rename(building_images, images)
    pipeline.set(ready, "1")
    for key in (ready, ranked, images):
        pipeline.expire(key, redis_queue.QUEUE_TTL_SECONDS)
    pipeline.execute()
    _correct_recent_changes(client, project_id, version, since=started - REBUILD_MARGIN)


def _active_subjects(project_id: int):
    """Active subjects as [(id, priority, image)] in chunks, by id."""
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, priority, image FROM labelling_subject"
                " WHERE project_id = %s AND status = %s AND id > %s ORDER BY id LIMIT %s",
                [project_id, SubjectStatus.ACTIVE, last, BUILD_CHUNK],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _correct_recent_changes(client, project_id: int, version: int, since) -> None:
    _, ranked, images = redis_queue.project_keys(project_id, version)
    recent = Subject.objects.filter(
        Q(retired_at__gte=since) | Q(created_at__gte=since), project_id=project_id
    ).values_list("pk", "status", "priority", "image")
    pipeline = client.pipeline(transaction=True)
    for pk, status, priority, image in recent:
        if status == SubjectStatus.ACTIVE:
            pipeline.zadd(ranked, {pk: priority})
            pipeline.hset(images, pk, image)
            pipeline.incr(redis_queue.added_key(project_id, version))
        else:
            pipeline.zrem(ranked, pk)
            pipeline.hdel(images, pk)
    pipeline.execute()


def after_round(*, project_id: int) -> None:
    """After `select_round` recorded a round: the new order under a new version, built at once."""
    version = redis_queue.serving_version_bump(project_id=project_id)
    try:
        queue_build(project_id=project_id, version=version)
    except Exception:  # the round stands whatever happens here; requests answer from SQL
        logger.exception("queue: rebuild after the round of project %s failed", project_id)
