"""RASA_SERVERS=N: what the supervisor starts, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import scaled
from bot.supervisor import Stack

SCALED = {
    "RASA_SERVERS": "2",
    "TRACKER_STORE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/shop",
    "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/shop",
    "REDIS_URL": "redis://127.0.0.1:6379/2",
}


def _stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Stack:
    monkeypatch.setattr("bot.supervisor.SECRETS_FILE", tmp_path / "secrets.env")
    return Stack(env=env, rasa_port=5005, action_port=5055, gateway_port=8000)


def test_two_servers_each_with_its_action_server_on_shared_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = _stack(tmp_path, monkeypatch, SCALED)
    env = stack.child_env()
    commands = stack.commands(env)
    assert {"rasa", "rasa-2", "actions", "actions-2", "gateway"} <= set(commands)
    for name in ("rasa", "rasa-2"):
        assert "endpoints.scaled.yml" in commands[name] and "endpoints.yml" not in commands[name]
    second = int(commands["rasa-2"][commands["rasa-2"].index("-p") + 1])
    assert second != 5005
    assert env["RASA_URLS"] == f"http://127.0.0.1:5005,http://127.0.0.1:{second}"
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_LOCK_DB"]) == ("127.0.0.1", "6379", "3")
    action_2 = stack.port("actions", 1)
    assert action_2 not in (5055, second)
    rasa_2_env = scaled.process_env("rasa-2", env, action_port=lambda i: stack.port("actions", i))
    actions_2_env = scaled.process_env("actions-2", env, action_port=lambda i: stack.port("actions", i))
    assert rasa_2_env["ACTION_ENDPOINT_URL"] == f"http://127.0.0.1:{action_2}/webhook"
    assert actions_2_env["ACTION_PORT"] == str(action_2)
    # The first pair keeps the one-machine settings.
    assert scaled.process_env("rasa", env, action_port=lambda i: 0)["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"


def test_one_server_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = _stack(tmp_path, monkeypatch, {})
    env = stack.child_env()
    commands = stack.commands(env)
    assert "rasa-2" not in commands and "endpoints.yml" in commands["rasa"]
    assert "RASA_URLS" not in env


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({**SCALED, "TRACKER_STORE_URL": "sqlite:///var/rasa.db"}, "PostgreSQL"),
        ({**SCALED, "REDIS_URL": ""}, "REDIS_URL"),
        ({**SCALED, "RASA_SERVERS": "two"}, "whole number"),
        ({**SCALED, "RASA_SERVERS": "0"}, "between 1 and 16"),
    ],
)
def test_settings_that_cannot_share_are_refused_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], reason: str
) -> None:
    with pytest.raises(scaled.ScaledConfigError, match=reason):
        _stack(tmp_path, monkeypatch, env).child_env()
