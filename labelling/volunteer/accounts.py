"""Volunteers: the account behind a request, or an anonymous one kept in the session; and an
anonymous volunteer's classifications carried into the account they sign up or sign in to."""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from labelling.core.errors import InvalidInput
from labelling.crowd import exclusions
from labelling.models import Classification, Volunteer, VolunteerExclusion
from labelling.queue import redis_queue

logger = logging.getLogger(__name__)


def volunteer_get_or_create(*, user=None, session_key: str | None = None) -> Volunteer:
    """The Volunteer behind a request: the account when logged in, else the anonymous session."""
    if user is not None and user.is_authenticated:
        volunteer, _ = Volunteer.objects.get_or_create(user=user)
        return volunteer
    if not session_key:
        raise InvalidInput("No session: enable cookies to classify anonymously")
    volunteer, _ = Volunteer.objects.get_or_create(session_key=session_key)
    return volunteer


def volunteer_create_anonymous(*, address: str = "") -> Volunteer:
    """A new anonymous volunteer; its id lives in the browser's session (a signed cookie).
    `address`: where the request came from, kept only as a keyed digest (`address_digest`)."""
    return Volunteer.objects.create(
        session_key=f"anonymous-{secrets.token_urlsafe(32)}", address_digest=address_digest(address)
    )


def address_digest(address: str) -> str:
    """A keyed digest of a client address: sessions from one address can be judged together, and
    the address itself is not stored. Empty for an unknown address."""
    if not address or address == "unknown":
        return ""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"address:{address}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Claimed:
    volunteer_id: int  # the account's volunteer now
    moved: int  # classifications that are the account's now
    kept: int  # left with the anonymous volunteer: the account had classified those subjects too


def volunteer_claim_anonymous(*, anonymous_id: int, user) -> Claimed | None:
    """Carry an anonymous volunteer's classifications into `user`'s account (None: no such
    anonymous volunteer). Votes move; none is copied, deleted or recounted, so no subject's counts
    or N change. Without a volunteer of its own, the account takes the anonymous one whole. Else
    each classification moves unless the account classified that subject too (or used its
    idempotency key): those two votes were counted as two volunteers' and stay so, the anonymous
    one with the anonymous volunteer, whom no session reaches any more. A standing exclusion of
    the anonymous volunteer in a project follows the votes there."""
    for attempt in range(2):
        try:
            return _claim(anonymous_id, user)
        except IntegrityError:  # the account voted on one of those subjects meanwhile
            if attempt:
                raise
            logger.info("claim of anonymous volunteer %s raced a vote; once more", anonymous_id)
    return None


def _claim(anonymous_id: int, user) -> Claimed | None:
    with transaction.atomic():
        anonymous = (
            Volunteer.objects.select_for_update().filter(pk=anonymous_id, user__isnull=True).first()
        )
        if anonymous is None:
            return None
        account = Volunteer.objects.select_for_update().filter(user=user).first()
        if account is None:
            anonymous.user = user
            anonymous.save(update_fields=["user"])
            return Claimed(anonymous.pk, anonymous.classifications.count(), 0)
        mine = Classification.objects.filter(volunteer=account)
        movable = (
            Classification.objects.filter(volunteer=anonymous)
            .exclude(subject_id__in=mine.values("subject_id"))
            .exclude(idempotency_key__in=mine.values("idempotency_key"))
        )
        project_ids = set(movable.values_list("project_id", flat=True).distinct())
        moved = movable.update(volunteer=account)
        _carry_exclusions(anonymous, account, project_ids)
        kept = anonymous.classifications.count()
    redis_queue.volunteer_seen_forget(volunteer_id=account.pk, project_ids=project_ids)
    return Claimed(account.pk, moved, kept)


def _carry_exclusions(anonymous: Volunteer, account: Volunteer, project_ids: set[int]) -> None:
    standing = VolunteerExclusion.objects.filter(
        volunteer=anonymous, project_id__in=project_ids, lifted_at__isnull=True
    ).select_related("project", "excluded_by")
    for exclusion in standing:
        if VolunteerExclusion.objects.filter(
            volunteer=account, project=exclusion.project, lifted_at__isnull=True
        ).exists():
            continue
        exclusions.volunteer_exclude(
            project=exclusion.project,
            volunteer_id=account.pk,
            by=exclusion.excluded_by,
            reason=f"as anonymous volunteer {anonymous.pk}: {exclusion.reason}",
        )
