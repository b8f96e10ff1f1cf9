"""actions.settings: the action server's one settings object, refusing what would expose it."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from actions.settings import MIN_TOKEN_CHARS, ActionServerSettings, get_settings
from crm.settings import CRMSettings

TOKEN = "action-server-test-token-0123456789abcdefghij"


def settings(**values: object) -> ActionServerSettings:
    return ActionServerSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_listen_on_loopback_port_5055_with_the_crms_settings() -> None:
    made = settings(action_server_token=TOKEN)
    assert (made.environment, made.action_server_host, made.action_port) == ("development", "127.0.0.1", 5055)
    assert isinstance(made, CRMSettings) and made.vip_order_threshold == 5


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_SERVER_TOKEN", TOKEN)
    monkeypatch.setenv("ACTION_PORT", "15055")
    monkeypatch.setenv("ACTION_SERVER_HOST", "::1")
    read = ActionServerSettings(_env_file=None)  # type: ignore[call-arg]
    assert read.action_server_token.get_secret_value() == TOKEN
    assert (read.action_port, read.action_server_host) == (15055, "::1")
    assert TOKEN not in repr(read)


def test_a_short_token_is_refused_in_development_too() -> None:
    assert settings(action_server_token="x" * MIN_TOKEN_CHARS).action_server_token.get_secret_value() == "x" * 16
    with pytest.raises(ValidationError, match="16\\+ characters"):
        settings(action_server_token="x" * (MIN_TOKEN_CHARS - 1))


def test_production_wants_a_token_nobody_can_guess() -> None:
    with pytest.raises(ValidationError, match="too weak for production"):
        settings(environment="production", action_server_token="a" * 40)
    strong = secrets.token_urlsafe(32)
    assert settings(environment="production", action_server_token=strong).environment == "production"


def test_the_settings_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_SERVER_TOKEN", TOKEN)
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_the_server_cannot_be_bound_beyond_loopback_or_run_without_a_token() -> None:
    with pytest.raises(ValidationError):
        ActionServerSettings(_env_file=None, action_server_token=TOKEN, action_server_host="0.0.0.0")  # type: ignore[call-arg,arg-type]
    with pytest.raises(ValidationError, match="ACTION_SERVER_TOKEN"):
        ActionServerSettings(_env_file=None, action_server_token="")  # type: ignore[call-arg]
