"""Per-volunteer and per-address limits on classification submits (fixed one-minute windows).

Counters live in the cache (Redis in production). If the cache is unreachable the limiter lets the
request through and logs it: a vote must never depend on Redis being up.
"""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

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


def check_submit(*, volunteer_id: int, address: str) -> Refusal | None:
    """Count one submit; return a Refusal when a limit is exceeded (None otherwise)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    retry_after = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
    limits = [
        ("volunteer", f"volunteer:{volunteer_id}", settings.RATE_LIMIT_SUBMITS_PER_VOLUNTEER),
        ("address", f"address:{address}", settings.RATE_LIMIT_SUBMITS_PER_ADDRESS),
    ]
    for scope, identity, limit in limits:
        if not limit:
            continue
        try:
            count = _count(f"ratelimit:submit:{identity}:{window}")
        except Exception:  # cache down: let the vote through
            logger.warning("rate limiter cache unavailable; submit allowed", exc_info=True)
            return None
        if count > limit:
            return Refusal(scope=scope, limit=limit, retry_after=retry_after)
    return None


def client_address(request) -> str:
    """The client's address; behind a proxy set TRUSTED_PROXY_COUNT so X-Forwarded-For is used."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "unknown")
