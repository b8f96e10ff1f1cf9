"""SMS settings: all or nothing, real secrets in production, the webhook address Twilio signs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import GatewaySettings

SMS = {
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": "a-real-twilio-auth-token",
    "twilio_from_number": "+447700900999",
    "public_base_url": "https://shop.example/",
}
PRODUCTION = {
    "environment": "production",
    "rasa_token": "Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0",
    "widget_identity_secret": "Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1",
}


def settings(**values: Any) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_sms_is_off_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    s = settings()
    assert s.sms_enabled is False
    assert s.twilio_api_base_url == "https://api.twilio.com"


def test_a_whole_configuration_turns_sms_on_and_the_secret_stays_hidden() -> None:
    s = settings(**SMS)
    assert s.sms_enabled is True
    assert s.public_base_url == "https://shop.example"  # no trailing slash: the signed URL is exact
    assert "a-real-twilio-auth-token" not in repr(s)


def test_the_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SMS.items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9999/")
    s = settings()
    assert s.sms_enabled and s.twilio_api_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("missing", list(SMS))
def test_half_a_configuration_says_what_is_missing(missing: str) -> None:
    values = {**SMS, missing: ""}
    with pytest.raises(ValidationError, match=missing.upper()):
        settings(**values)


def test_the_sending_number_must_be_e164() -> None:
    with pytest.raises(ValidationError, match="E.164"):
        settings(**{**SMS, "twilio_from_number": "07700 900999"})


def test_the_public_address_must_be_a_url() -> None:
    with pytest.raises(ValidationError, match="http"):
        settings(**{**SMS, "public_base_url": "shop.example"})


@pytest.mark.parametrize("placeholder", ["changeme", "SECRET", "todo"])
def test_production_refuses_a_placeholder_auth_token(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN"):
        settings(**PRODUCTION, **{**SMS, "twilio_auth_token": placeholder})


def test_production_needs_an_https_public_address() -> None:
    with pytest.raises(ValidationError, match="https"):
        settings(**PRODUCTION, **{**SMS, "public_base_url": "http://shop.example"})
    assert settings(**PRODUCTION, **SMS).sms_enabled
