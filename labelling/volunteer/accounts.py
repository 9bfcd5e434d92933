"""Volunteers: the account behind a request, or an anonymous one kept in the session."""

import secrets

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


def volunteer_create_anonymous() -> Volunteer:
    """A new anonymous volunteer; its id lives in the browser's session (a signed cookie)."""
    return Volunteer.objects.create(session_key=f"anonymous-{secrets.token_urlsafe(32)}")
