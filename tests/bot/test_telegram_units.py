"""The Telegram channel's pure parts: message splitting, deep-link tokens, settings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from bot.channels.telegram import wire
from bot.channels.telegram import LinkTokenError, link_token, read_link_token, split_text
from bot.intake.door import Intake
from bot.settings import GatewaySettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SECRET = "link-secret-0123456789abcdef"


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- splitting -----------------------------------------------------------------------------


def test_a_short_text_is_one_piece() -> None:
    assert split_text("Your order has shipped.") == ["Your order has shipped."]
    assert split_text("   ") == []


def test_a_long_text_is_cut_at_paragraphs_first() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_without_paragraphs_it_cuts_at_a_sentence_then_a_space() -> None:
    sentence = ("This is a sentence. " * 300).strip()
    pieces = split_text(sentence)
    assert len(pieces) == 2
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == sentence
    words = " ".join(["word"] * 2000)
    pieces = split_text(words)
    assert all(len(p) <= 4096 for p in pieces) and " ".join(pieces) == words


def test_a_single_endless_word_is_cut_hard() -> None:
    pieces = split_text("x" * 10_000)
    assert [len(p) for p in pieces] == [4096, 4096, 1808]


def test_the_limit_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units
    pieces = split_text(text)
    assert all(utf16(p) <= 4096 for p in pieces)
    assert "".join(pieces) == text


@pytest.mark.parametrize("limit", [50, 100, 4096])
def test_nothing_is_lost_whatever_the_limit(limit: int) -> None:
    text = "Line one.\nLine two is longer! And a question? " * 40 + "\n\n" + "tail " * 30
    pieces = split_text(text, limit)
    assert all(0 < utf16(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


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


# -- small conversions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("en", "en"),
        ("en-gb", "en-GB"),
        ("pt-BR", "pt-BR"),
        ("DE", "de"),
        (None, "en"),
        ("zh-hans", "en"),
        ("", "en"),
    ],
)
def test_telegram_language_codes_become_locales(code: str | None, locale: str) -> None:
    assert wire.locale(code) == locale


@pytest.mark.parametrize(
    ("shared", "e164"),
    [
        ("447700900123", "+447700900123"),
        ("+447700900123", "+447700900123"),
        ("14155550123", "+14155550123"),
        ("07700 900123", "+447700900123"),
        ("not a number", None),
        ("", None),
    ],
)
def test_shared_numbers_are_read_as_e164(shared: str, e164: str | None) -> None:
    # The adapter puts Telegram's missing "+" back; the intake service normalises.
    assert Intake.phone(wire.international(shared)) == e164


# -- settings ------------------------------------------------------------------------------------


def settings(**values: Any) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


PRODUCTION = {
    "environment": "production",
    "rasa_token": "Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0",
    "widget_identity_secret": "Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1",
}


def test_telegram_is_off_without_a_token_and_defaults_to_telegrams_api() -> None:
    plain = settings()
    assert not plain.telegram_enabled
    assert plain.telegram_api_base_url == "https://api.telegram.org"
    assert plain.telegram_mode == "webhook"
    assert settings(telegram_bot_token="  ").telegram_enabled is False


def test_telegram_settings_are_tidied() -> None:
    tidy = settings(
        telegram_api_base_url="http://127.0.0.1:8081/",
        telegram_bot_username="@shop_bot",
        telegram_webhook_url="",
    )
    assert tidy.telegram_api_base_url == "http://127.0.0.1:8081"
    assert tidy.telegram_bot_username == "shop_bot"
    assert tidy.telegram_webhook_url is None


@pytest.mark.parametrize("secret", ["has space", "semi;colon", "x" * 257, "é"])
def test_a_webhook_secret_telegram_would_reject_is_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET"):
        settings(telegram_webhook_secret=secret)


def test_production_webhook_mode_needs_a_real_webhook_secret() -> None:
    for secret in ("", "changeme", "secret"):
        with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET"):
            settings(**PRODUCTION, telegram_bot_token="1:abc", telegram_webhook_secret=secret)
    assert settings(
        **PRODUCTION, telegram_bot_token="1:abc", telegram_webhook_secret="Telegram-hook_9Qw2Er7Ty4Ui1Op8As5Df3Gh6Jk0"
    ).telegram_enabled
    # Polling needs no webhook secret; Telegram off needs nothing.
    assert (
        settings(**PRODUCTION, telegram_bot_token="1:abc", telegram_mode="polling").telegram_mode == "polling"
    )
    assert not settings(**PRODUCTION).telegram_enabled


def test_production_refuses_a_placeholder_link_secret() -> None:
    with pytest.raises(ValidationError, match="TELEGRAM_LINK_SECRET"):
        settings(
            **PRODUCTION, telegram_bot_token="1:abc", telegram_mode="polling", telegram_link_secret="changeme"
        )


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationError):
        settings(telegram_mode="push")


@pytest.mark.parametrize("chat_id", [{}, "42", True, [1]])
def test_an_update_whose_chat_is_not_numbered_is_not_an_update(chat_id: Any) -> None:
    ada = {"id": 42, "is_bot": False, "first_name": "Ada"}
    message = {"message_id": 1, "date": 1, "chat": {"id": chat_id, "type": "private"}, "from": ada, "text": "hi"}
    assert wire.parse({"update_id": 1, "message": message}, None) is None  # type: ignore[arg-type]
    message["chat"] = {"id": 42, "type": "private"}
    assert wire.parse({"update_id": 1, "message": message}, None) is not None  # type: ignore[arg-type]
