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
volunteer's history from the database once the seen set is warm, nor walks it again in Redis. Anything missing (cold) or Redis unreachable: the
caller answers from SQL. A vote never waits on Redis: the writes here happen after the vote's
statement committed, and a write that fails bumps `Project.serving_version`, so that no process
trusts the keys that missed it (they are rebuilt from the database under the new version).
"""

import logging
import threading
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from labelling.models import Classification, Project, Subject, SubjectStatus
from labelling.redis_scripts import ThreadScript

logger = logging.getLogger(__name__)

SEEN_SENTINEL = "0"
SEEN_TTL_SECONDS = 6 * 3600
QUEUE_TTL_SECONDS = 7 * 24 * 3600
BUILD_LOCK_SECONDS = 600
BUILD_CHUNK = 20_000
# A process asks for the build of a cold queue at most this often (the lock makes it one builder).
BUILD_RETRY_SECONDS = 5.0
# How far down the queue one lookup may walk past subjects the volunteer has seen before SQL answers.
MAX_SCAN = 20_000
# After a failure, Redis is not tried again for this long (requests go straight to SQL).
RETRY_AFTER_SECONDS = 1.0
# A subject retired or imported this long before a rebuild's read is re-checked after the swap.
REBUILD_MARGIN = timedelta(seconds=5)

COLD_QUEUE, COLD_SEEN, SCANNED_TOO_FAR = -1, -2, -3

# KEYS: ready, queue, images, seen, cursor, added. ARGV: wanted, max_scan, ttl, excluded ids...
# Returns COLD_QUEUE, COLD_SEEN, SCANNED_TOO_FAR or a flat list [id, image, id, image, ...].
# The cursor remembers where the run of subjects the volunteer has seen ends, from the top: the
# next lookup starts there (position = score, then member, as the sorted set orders them), so the
# volunteer's history is not walked again. An import (which may add a subject above the cursor)
# changes `added`, which voids every cursor of the queue.
NEXT_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SISMEMBER', KEYS[4], '0') == 0 then return -2 end
local excluded = {}
for index = 4, #ARGV do excluded[ARGV[index]] = true end
local wanted, max_scan = tonumber(ARGV[1]), tonumber(ARGV[2])
local added = redis.call('GET', KEYS[6]) or '0'
local cursor = redis.call('HMGET', KEYS[5], 'score', 'member', 'added')
local bound_score, bound_member = '+inf', false
if cursor[1] and cursor[3] == added then bound_score, bound_member = cursor[1], cursor[2] end
local bound_number = tonumber(bound_score)
local found, scanned, offset, chunk = {}, 0, 0, 32
local in_prefix, prefix_score, prefix_member = true, false, false
while #found < wanted do
  if scanned >= max_scan then return -3 end
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[2], bound_score, '-inf', 'WITHSCORES',
                          'LIMIT', offset, chunk)
  if #page == 0 then break end
  for index = 1, #page, 2 do
    local id, score = page[index], page[index + 1]
    scanned = scanned + 1
    if not (bound_member and tonumber(score) == bound_number and id >= bound_member) then
      if excluded[id] then
        in_prefix = false
      elseif redis.call('SISMEMBER', KEYS[4], id) == 0 then
        in_prefix = false
        found[#found + 1] = id
        if #found >= wanted then break end
      elseif in_prefix then
        prefix_score, prefix_member = score, id
      end
    end
  end
  offset = offset + chunk
  chunk = math.min(chunk * 2, 1024)
end
if prefix_score then
  redis.call('HSET', KEYS[5], 'score', prefix_score, 'member', prefix_member, 'added', added)
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[3]))
end
if #found == 0 then return {} end
local images = redis.call('HMGET', KEYS[3], unpack(found))
local answer = {}
for index, id in ipairs(found) do
  answer[#answer + 1] = id
  answer[#answer + 1] = images[index] or ''
end
return answer
"""

# KEYS: seen, queue, images, latest version. ARGV: subject id, seen TTL, retired (1/0), this
# request's version, project id, volunteer id. One command per vote. When a newer version was
# published, the vote also joins that version's seen set (the key is built as _seen_key does).
CLASSIFIED_SCRIPT = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local latest = redis.call('GET', KEYS[4])
if latest and tonumber(latest) > tonumber(ARGV[4]) then
  local newer = 'starling:seen:' .. ARGV[5] .. ':' .. latest .. ':' .. ARGV[6]
  redis.call('SADD', newer, ARGV[1])
  redis.call('EXPIRE', newer, tonumber(ARGV[2]))
end
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 1
"""

_client: redis.Redis | None = None
_client_lock = threading.Lock()
_script = None
_classified_script = None
_unavailable_until = 0.0
_missed_writes = False
_last_bump: dict[int, float] = {}
_build_tried: dict[tuple[int, int], float] = {}


def queue_redis_url() -> str | None:
    """STARLING_QUEUE_REDIS_URL, else the Redis of the default cache; None: no queue (SQL only)."""
    url = getattr(settings, "STARLING_QUEUE_REDIS_URL", "")
    if url:
        return url
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND", "").endswith("RedisCache"):
        return cache.get("LOCATION")
    return None


def _redis() -> redis.Redis | None:
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


def _failed(action: str) -> None:
    global _unavailable_until
    _unavailable_until = time.monotonic() + RETRY_AFTER_SECONDS
    logger.warning("queue: Redis unavailable during %s; SQL answers for now", action, exc_info=True)


def reset() -> None:
    """Forget the client and the back-off (tests that start and stop their own Redis)."""
    global _client, _script, _classified_script, _unavailable_until, _missed_writes
    with _client_lock:
        _client, _script, _classified_script = None, None, None
        _unavailable_until, _missed_writes = 0.0, False
        _build_tried.clear()


def _keys(project_id: int, version: int) -> tuple[str, str, str]:
    base = f"{project_id}:{version}"
    return f"starling:ready:{base}", f"starling:queue:{base}", f"starling:images:{base}"


def _latest_key(project_id: int) -> str:
    return f"starling:latest-version:{project_id}"


def _added_key(project_id: int, version: int) -> str:
    return f"starling:added:{project_id}:{version}"


def _cursor_key(project_id: int, version: int, volunteer_id: int) -> str:
    return f"starling:cursor:{project_id}:{version}:{volunteer_id}"


def _seen_key(project_id: int, version: int, volunteer_id: int) -> str:
    return f"starling:seen:{project_id}:{version}:{volunteer_id}"


def serving_version_bump(*, project_id: int) -> int:
    """Make every process drop this project's Redis keys (they are rebuilt under the new version).

    The new version is also written to Redis (best effort): a vote stored by a process that has not
    seen the bump yet (its project is re-read once a second) then lands in the new seen set too."""
    from labelling import snapshots

    Project.objects.filter(pk=project_id).update(serving_version=F("serving_version") + 1)
    version = Project.objects.values_list("serving_version", flat=True).get(pk=project_id)
    snapshots.forget()
    client = _redis()
    if client is not None:
        try:
            client.set(_latest_key(project_id), version, ex=QUEUE_TTL_SECONDS)
        except redis.RedisError:
            _failed("publishing a new serving version")
    return version


# --- reads ---------------------------------------------------------------------------------------


def next_subjects(
    *,
    project_id: int,
    version: int,
    volunteer_id: int,
    wanted: int,
    exclude_ids: tuple[int, ...] = (),
) -> list[tuple[int, str]] | None:
    """Up to `wanted` (subject id, image path) from the top of the queue that the volunteer has not
    classified, best first; None when Redis cannot answer (unreachable or cold): ask SQL."""
    client = _redis()
    if client is None:
        return None
    ready, queue, images = _keys(project_id, version)
    seen = _seen_key(project_id, version, volunteer_id)
    cursor = _cursor_key(project_id, version, volunteer_id)
    try:
        for _ in range(2):
            answer = _script(
                keys=[ready, queue, images, seen, cursor, _added_key(project_id, version)],
                args=[wanted, MAX_SCAN, SEEN_TTL_SECONDS, *exclude_ids],
            )
            if answer == COLD_SEEN:
                _seen_load(client, seen, cursor, project_id, volunteer_id)
                continue
            if answer == COLD_QUEUE:
                _build_soon(project_id, version)
                return None  # SQL answers until the queue is built
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
        _failed("next")
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
    client = _redis()
    try:
        if client is None:
            raise redis.ConnectionError("Redis marked unavailable")
        _, queue, images = _keys(project_id, version)
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
            _failed("a classification's queue update")
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
    client = _redis()
    ready, queue, images = _keys(project_id, version)
    try:
        if client is None or not client.exists(ready):
            return
        pipeline = client.pipeline(transaction=True)
        pipeline.zadd(queue, {subject_id: priority})
        pipeline.hset(images, subject_id, image)
        pipeline.incr(_added_key(project_id, version))  # voids the cursors: it may rank above them
        pipeline.expire(_added_key(project_id, version), QUEUE_TTL_SECONDS)
        pipeline.execute()
    except redis.RedisError:
        _failed("an import's queue update")
        serving_version_bump(project_id=project_id)


def subjects_retired(*, project_id: int, subject_ids: list[int]) -> None:
    """Subjects retired outside a vote (model-aware retirement) leave the queue; a failure bumps
    the serving version, so that no process trusts the keys that still hold them."""
    if queue_redis_url() is None or not subject_ids:
        return
    version = Project.objects.values_list("serving_version", flat=True).get(pk=project_id)
    _, queue, images = _keys(project_id, version)
    client = _redis()
    try:
        if client is None:
            raise redis.ConnectionError("Redis marked unavailable")
        pipeline = client.pipeline(transaction=True)
        pipeline.zrem(queue, *subject_ids)
        pipeline.hdel(images, *subject_ids)
        pipeline.execute()
    except redis.RedisError:
        if client is not None:
            _failed("a retirement's queue update")
        serving_version_bump(project_id=project_id)


def queue_build(*, project_id: int, version: int) -> bool:
    """Build the queue of one project version from the database (one builder at a time).

    Written under temporary keys and renamed into place, then subjects retired or imported while
    it was read are corrected. Returns False when another process is building it or Redis failed."""
    if _redis() is None:
        return False
    # Its own client: a build's large writes may take longer than a request's timeout allows.
    client = redis.Redis.from_url(queue_redis_url(), socket_connect_timeout=1, socket_timeout=30)
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
        _failed("a queue build")
        return False
    finally:
        client.close()


def _build_soon(project_id: int, version: int) -> None:
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
    ready, queue, images = _keys(project_id, version)
    started = timezone.now()
    building_queue, building_images = f"{queue}:building", f"{images}:building"
    client.delete(building_queue, building_images)
    for rows in _active_subjects(project_id):
        pipeline = client.pipeline(transaction=False)
        pipeline.zadd(building_queue, {pk: priority for pk, priority, _ in rows})
        pipeline.hset(building_images, mapping={pk: image for pk, _, image in rows})
        pipeline.execute()
    pipeline = client.pipeline(transaction=True)
    pipeline.delete(queue, images)
    if client.exists(building_queue):
        pipeline.rename(building_queue, queue)
        pipeline.rename(building_images, images)
    pipeline.set(ready, "1")
    for key in (ready, queue, images):
        pipeline.expire(key, QUEUE_TTL_SECONDS)
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
    _, queue, images = _keys(project_id, version)
    recent = Subject.objects.filter(
        Q(retired_at__gte=since) | Q(created_at__gte=since), project_id=project_id
    ).values_list("pk", "status", "priority", "image")
    pipeline = client.pipeline(transaction=True)
    for pk, status, priority, image in recent:
        if status == SubjectStatus.ACTIVE:
            pipeline.zadd(queue, {pk: priority})
            pipeline.hset(images, pk, image)
            pipeline.incr(_added_key(project_id, version))
        else:
            pipeline.zrem(queue, pk)
            pipeline.hdel(images, pk)
    pipeline.execute()


def after_round(*, project_id: int) -> None:
    """After `select_round` recorded a round: the new order under a new version, built at once."""
    version = serving_version_bump(project_id=project_id)
    try:
        queue_build(project_id=project_id, version=version)
    except Exception:  # the round stands whatever happens here; requests answer from SQL
        logger.exception("queue: rebuild after the round of project %s failed", project_id)
