"""Signed-cookie sessions that each web process verifies once a minute (starling/sessions.py): a
remembered cookie answers as before, a forged or changed one never matches, and the age limit
still holds."""

import time

import pytest
from django.core import signing

from starling import sessions
from starling.sessions import SessionStore


@pytest.fixture(autouse=True)
def nothing_remembered():
    sessions._verified.clear()
    yield
    sessions._verified.clear()


def cookie_holding(**data) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_a_remembered_cookie_loads_the_same_data_and_each_request_gets_its_own_copy():
    cookie = cookie_holding(starling_volunteer=[7, None])
    first = SessionStore(session_key=cookie)
    assert first["starling_volunteer"] == [7, None]
    assert cookie in sessions._verified
    first["starling_volunteer"] = [8, None]  # one request changes its session...
    again = SessionStore(session_key=cookie)
    assert again["starling_volunteer"] == [
        7,
        None,
    ]  # ...the next one with that cookie does not see it


def test_a_changed_or_forged_cookie_is_refused_even_when_the_genuine_one_is_remembered():
    cookie = cookie_holding(starling_volunteer=[7, None])
    assert SessionStore(session_key=cookie)["starling_volunteer"] == [7, None]
    payload, _, signature = cookie.rpartition(":")
    forged = f"{payload}:{'A' * len(signature)}"
    refused = SessionStore(session_key=forged)
    assert refused.get("starling_volunteer") is None
    assert forged not in sessions._verified
    other_data = signing.dumps({"starling_volunteer": [1, None]}, salt="not-the-sessions-salt")
    assert SessionStore(session_key=other_data).get("starling_volunteer") is None


def test_the_age_limit_holds_once_the_remembered_entry_is_due_again(settings, monkeypatch):
    settings.SESSION_COOKIE_AGE = 1
    cookie = cookie_holding(starling_volunteer=[7, None])
    assert SessionStore(session_key=cookie)["starling_volunteer"] == [7, None]
    time.sleep(2.1)  # the cookie is now older than SESSION_COOKIE_AGE
    # Within REVERIFY_SECONDS of its check the remembered data still answers...
    assert SessionStore(session_key=cookie)["starling_volunteer"] == [7, None]
    # ...and once the entry is due for a check again, the expired cookie is refused.
    monkeypatch.setattr(sessions, "REVERIFY_SECONDS", 1.0)
    assert SessionStore(session_key=cookie).get("starling_volunteer") is None
