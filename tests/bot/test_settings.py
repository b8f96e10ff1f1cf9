from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from bot.settings import GatewaySettings


# What `secrets.token_urlsafe(32)` makes: 32 random bytes in 43+ URL-safe characters.
STRONG = "Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0"
STRONG_TOO = "Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1"


def settings(**values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_are_a_local_development_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RASA_URL", "DATABASE_URL", "DEMO_MODE", "ENVIRONMENT", "REDIS_URL", "GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    s = settings()
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.action_server_url == "http://127.0.0.1:5055"
    assert s.rasa_timeout_seconds == 8
    assert s.max_message_chars == 2000
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/crm.db")
    assert (s.gateway_host, s.gateway_port) == ("127.0.0.1", 8000)
    assert s.demo_mode is False and s.redis_url is None and s.environment == "development"


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_URL", "http://rasa:5005/")
    monkeypatch.setenv("RASA_TIMEOUT_SECONDS", "3.5")
    monkeypatch.setenv("DEMO_MODE", "true")
    monkeypatch.setenv("REDIS_URL", "")
    s = settings()
    assert s.rasa_url == "http://rasa:5005"
    assert s.rasa_timeout_seconds == 3.5
    assert s.demo_mode is True
    assert s.redis_url is None


@pytest.mark.parametrize("placeholder", ["", "changeme", "CHANGEME", " secret "])
@pytest.mark.parametrize("name", ["rasa_token", "widget_identity_secret"])
def test_production_refuses_placeholder_secrets(name: str, placeholder: str) -> None:
    values = {"rasa_token": STRONG, "widget_identity_secret": STRONG_TOO}
    values[name] = placeholder
    with pytest.raises(ValidationError, match=name.upper()):
        settings(environment="production", **values)


def test_production_refuses_demo_mode() -> None:
    with pytest.raises(ValidationError, match="DEMO_MODE"):
        settings(
            environment="production",
            rasa_token=STRONG,
            widget_identity_secret=STRONG_TOO,
            demo_mode=True,
        )


def test_production_with_real_secrets_is_accepted_and_secrets_stay_hidden() -> None:
    s = settings(environment="production", rasa_token=STRONG, widget_identity_secret=STRONG_TOO)
    assert "Rasa-test-token" not in repr(s)


def test_development_tolerates_missing_secrets() -> None:
    assert settings(environment="development").rasa_token.get_secret_value() == ""


@pytest.mark.parametrize(
    ("name", "value"), [("rasa_timeout_seconds", 0), ("max_message_chars", -1), ("log_level", "LOUD")]
)
def test_nonsense_is_refused(name: str, value: object) -> None:
    with pytest.raises(ValidationError):
        settings(**{name: value})


@pytest.mark.parametrize(
    "weak",
    [
        "a-real-token-123456",  # 19 characters: about 110 bits at most
        "0123456789abcdef0123456789abcdef",  # 32 hex digits are 16 bytes, not 32
        "x" * 64,  # long, but one character
        "Password1!Password1!Password1!Password1!",  # a few characters, repeated
    ],
)
@pytest.mark.parametrize(
    "name", ["rasa_token", "widget_identity_secret", "staff_session_secret", "metrics_token", "telegram_link_secret"]
)
def test_production_refuses_any_secret_of_less_than_32_random_bytes(name: str, weak: str) -> None:
    values = {"rasa_token": STRONG, "widget_identity_secret": STRONG_TOO, name: weak}
    with pytest.raises(ValidationError, match=f"{name.upper()} must be at least 32 random bytes in production"):
        settings(environment="production", **values)
    # Development keeps working with whatever a developer typed.
    assert settings(environment="development", **values).environment == "development"


def test_production_refuses_a_short_telegram_webhook_secret() -> None:
    values = {"rasa_token": STRONG, "widget_identity_secret": STRONG_TOO, "telegram_bot_token": "1:abc"}
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET must be at least 32 random bytes"):
        settings(environment="production", telegram_webhook_secret="r3al-Secret_value", **values)
    made = secrets.token_urlsafe(32)
    assert settings(environment="production", telegram_webhook_secret=made, **values).telegram_enabled


def test_production_accepts_what_the_supervisor_generates() -> None:
    made = {name: secrets.token_urlsafe(32) for name in ("rasa_token", "widget_identity_secret", "staff_session_secret")}
    assert settings(environment="production", **made).environment == "production"
    assert settings(environment="production", rasa_token=secrets.token_hex(32), widget_identity_secret=STRONG)


def test_one_database_default_for_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from actions.settings import ActionServerSettings
    from bot.supervisor_settings import SupervisorSettings
    from crm.settings import DEFAULT_DATABASE_URL, CRMSettings

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "a" * 16 + "-not-a-real-one")
    assert GatewaySettings(_env_file=None).database_url == DEFAULT_DATABASE_URL
    assert ActionServerSettings(_env_file=None).database_url == DEFAULT_DATABASE_URL
    assert SupervisorSettings().database_url == DEFAULT_DATABASE_URL
    assert isinstance(GatewaySettings(_env_file=None), CRMSettings)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    assert GatewaySettings(_env_file=None).database_url == "sqlite:///elsewhere.db"
    assert SupervisorSettings().database_url == "sqlite:///elsewhere.db"
