"""Django's signed-cookie sessions, with each web process remembering the cookies it verified.

A volunteer's browser sends the same session cookie with every vote until the session changes, and
checking its signature (HMAC, base64, decompression, JSON) was a visible part of each API request's
CPU in the serving profile (`make bench-serving`). A cookie verified here in the last
`REVERIFY_SECONDS` is not checked again: the data is the cookie's own (the key is the whole signed
value, so a changed or forged cookie is never found), and the one thing that can change with time,
the cookie's age limit (SESSION_COOKIE_AGE), is checked again once the entry is that old. So a
session can outlive its age limit by at most REVERIFY_SECONDS.
"""

import time

from django.contrib.sessions.backends import signed_cookies

REVERIFY_SECONDS = 60.0
MAX_REMEMBERED = 20_000  # cookies per process; then it starts over

_verified: dict[str, tuple[float, dict]] = {}


class SessionStore(signed_cookies.SessionStore):
    def load(self) -> dict:
        key = self.session_key
        remembered = _verified.get(key) if key else None
        now = time.monotonic()
        if remembered is not None and now - remembered[0] < REVERIFY_SECONDS:
            return dict(remembered[1])  # the request may change its own copy
        data = super().load()
        if data and self.session_key == key:  # verified (a bad cookie starts a new session)
            if len(_verified) >= MAX_REMEMBERED:
                _verified.clear()
            _verified[key] = (now, dict(data))
        return data
