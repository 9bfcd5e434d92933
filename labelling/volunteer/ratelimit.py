"""Per-volunteer and per-address limits on classification submits (fixed one-minute windows).

Counters live in the cache (Redis in production). If the cache is unreachable the limiter lets the
request through and logs it: a vote must never depend on Redis being up.
"""

import ipaddress
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from labelling.core.redis_scripts import ThreadScript

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Refusal:
    scope: str
    limit: int
    retry_after: int

    @property
    def message(self) -> str:
        return (
            f"Too many classifications from this {self.scope}: the limit is {self.limit} per minute. "
            f"Try again in {self.retry_after} s."
        )


def _count(key: str) -> int:
    cache.add(key, 0, timeout=WINDOW_SECONDS + 10)
    return cache.incr(key)


# Count one hit on each key (KEYS), which expire ARGV[1] seconds after their first hit.
COUNT_SCRIPT = """
local counts = {}
for index, key in ipairs(KEYS) do
  counts[index] = redis.call('INCR', key)
  if counts[index] == 1 then redis.call('EXPIRE', key, tonumber(ARGV[1])) end
end
return counts
"""


def _redis_script(backend: RedisCache) -> ThreadScript:
    """The counting script on the cache's Redis, kept on the backend (one per CACHES setting)."""
    script = getattr(backend, "_starling_count_script", None)
    if script is None:
        options = backend._options
        script = ThreadScript(
            url=backend._servers[0],
            source=COUNT_SCRIPT,
            timeout_seconds=options.get("socket_timeout") or 1.0,
        )
        backend._starling_count_script = script
    return script


def _counts(keys: list[str]) -> list[int]:
    """Count one hit on each key: one command when the cache is Redis, else through the cache."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return [_count(key) for key in keys]
    full_keys = [backend.make_and_validate_key(key) for key in keys]
    return _redis_script(backend)(keys=full_keys, args=[WINDOW_SECONDS + 10])


def check_submit(*, volunteer_id: int, address: str) -> Refusal | None:
    """Count one submit; return a Refusal when a limit is exceeded (None otherwise)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    retry_after = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
    limits = [
        ("volunteer", f"volunteer:{volunteer_id}", settings.RATE_LIMIT_SUBMITS_PER_VOLUNTEER),
        ("address", f"address:{address}", settings.RATE_LIMIT_SUBMITS_PER_ADDRESS),
    ]
    limits = [(scope, identity, limit) for scope, identity, limit in limits if limit]
    if not limits:
        return None
    try:
        counts = _counts([f"ratelimit:submit:{identity}:{window}" for _, identity, _ in limits])
    except Exception:  # cache down: let the vote through
        logger.warning("rate limiter cache unavailable; submit allowed", exc_info=True)
        return None
    for (scope, _, limit), count in zip(limits, counts, strict=True):
        if count > limit:
            return Refusal(scope=scope, limit=limit, retry_after=retry_after)
    return None


def client_address(request) -> str:
    """The client's address; behind a proxy set TRUSTED_PROXY_COUNT so X-Forwarded-For is used."""
    return address_from_environ(request.META)


def address_from_environ(environ) -> str:
    """client_address from a request's WSGI environ (Django's request.META)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [
        part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return environ.get("REMOTE_ADDR", "unknown")


def client_ip_or_none(request) -> str | None:
    """For django-axes: the client's address, or None when there is none to record (a sign-in
    without a request, as in tests' force_login, or a REMOTE_ADDR that is not an address)."""
    if request is None:
        return None
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
