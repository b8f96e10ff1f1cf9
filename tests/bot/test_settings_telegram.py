"""Telegram settings: off without a token, tidied, and real secrets in production."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import GatewaySettings


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
