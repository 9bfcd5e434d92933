"""Volunteers: the account behind a request, or an anonymous one kept in the session."""

import hashlib
import hmac
import secrets

from django.conf import settings

from labelling.core.errors import InvalidInput
from labelling.models import Volunteer


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
