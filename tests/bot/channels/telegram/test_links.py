"""bot.channels.telegram.links: signed deep-link tokens for Telegram's start parameter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.telegram import LinkTokenError, link_token, read_link_token

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SECRET = "link-secret-0123456789abcdef"


# -- deep-link tokens ------------------------------------------------------------------------


def test_a_token_names_the_customer_until_it_expires() -> None:
    token = link_token("C001", secret=SECRET, expires_at=NOW + timedelta(minutes=10))
    assert read_link_token(token, secret=SECRET, now=NOW) == "C001"
    assert read_link_token(token, secret=SECRET, now=NOW + timedelta(minutes=9, seconds=59)) == "C001"
    with pytest.raises(LinkTokenError) as expired:
        read_link_token(token, secret=SECRET, now=NOW + timedelta(minutes=10))
    assert expired.value.expired


def test_a_token_fits_telegrams_start_parameter() -> None:
    longest = "C" * 32
    token = link_token(longest, secret=SECRET, expires_at=NOW)
    assert len(token) <= 64
    assert all(c.isalnum() or c in "-_" for c in token)
    assert read_link_token(token, secret=SECRET, now=NOW - timedelta(seconds=1)) == longest
    with pytest.raises(ValueError):
        link_token("C" * 33, secret=SECRET, expires_at=NOW)
    with pytest.raises(ValueError):
        link_token("C001", secret="", expires_at=NOW)


@pytest.mark.parametrize(
    "token",
    [
        link_token("C001", secret="another-secret", expires_at=NOW + timedelta(minutes=5)),
        link_token("C001", secret=SECRET, expires_at=NOW + timedelta(minutes=5))[:-1],
        link_token("C001", secret=SECRET, expires_at=NOW + timedelta(minutes=5)) + "A",
        "",
        "short",
        "!" * 40,
        "A" * 65,
    ],
)
def test_a_forged_or_damaged_token_is_invalid(token: str) -> None:
    with pytest.raises(LinkTokenError) as invalid:
        read_link_token(token, secret=SECRET, now=NOW)
    assert not invalid.value.expired


def test_the_expiry_cannot_be_extended_by_editing_the_token() -> None:
    import base64
    import struct

    token = link_token("C001", secret=SECRET, expires_at=NOW - timedelta(minutes=1))
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[12:16] = struct.pack(">I", int((NOW + timedelta(days=1)).timestamp()))
    edited = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(LinkTokenError) as invalid:
        read_link_token(edited, secret=SECRET, now=NOW)
    assert not invalid.value.expired


def test_no_secret_verifies_nothing() -> None:
    token = link_token("C001", secret=SECRET, expires_at=NOW + timedelta(minutes=5))
    with pytest.raises(LinkTokenError):
        read_link_token(token, secret="", now=NOW)
