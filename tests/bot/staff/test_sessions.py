"""Signed staff sessions and CSRF tokens, as units."""

from __future__ import annotations

import base64
import json

import pytest

from bot.staff import sessions

SECRET = "a-staff-session-secret-for-tests"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def signer(clock: Clock | None = None, secret: str = SECRET) -> sessions.SessionSigner:
    return sessions.SessionSigner(secret, lifetime_seconds=3600, clock=clock or Clock())


def test_a_session_reads_back_until_it_expires() -> None:
    clock = Clock()
    s = signer(clock)
    token = s.issue(staff_id=7, password_hash="$argon2id$hash")
    session = s.read(token)
    assert session is not None and session.staff_id == 7
    assert session.password_fingerprint == sessions.password_fingerprint("$argon2id$hash")
    clock.now += 3599
    assert s.read(token) is not None
    clock.now += 2
    assert s.read(token) is None


def test_forged_tampered_or_foreign_cookies_are_nobody() -> None:
    s = signer()
    token = s.issue(staff_id=7, password_hash="h")
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["uid"] = 1  # try to become the admin
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert s.read(f"{forged}.{signature}") is None
    assert s.read(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert signer(secret="another-secret-entirely-0123").read(token) is None
    for junk in (None, "", "abc", "a.b.c", "x" * 600, "e30.e30"):
        assert s.read(junk) is None


def test_signing_out_revokes_the_session_and_csrf_tokens_are_bound_to_it() -> None:
    s = signer()
    one = s.read(s.issue(staff_id=7, password_hash="h"))
    two = s.read(s.issue(staff_id=7, password_hash="h"))
    assert one is not None and two is not None
    assert s.csrf_valid(one, s.csrf_token(one))
    assert not s.csrf_valid(one, s.csrf_token(two))
    assert not s.csrf_valid(one, None) and not s.csrf_valid(one, "")
    token = s.issue(staff_id=8, password_hash="h")
    session = s.read(token)
    assert session is not None
    s.revoke(session)
    assert s.read(token) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sessions.SessionSigner("short", lifetime_seconds=60)


def test_login_csrf_needs_both_halves_to_match() -> None:
    token = sessions.new_login_csrf()
    assert sessions.login_csrf_valid(token, token)
    assert not sessions.login_csrf_valid(token, token + "x")
    assert not sessions.login_csrf_valid(None, token)
    assert not sessions.login_csrf_valid(token, None)
