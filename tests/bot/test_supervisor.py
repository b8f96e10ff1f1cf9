"""The supervisor: secrets made once, passed by environment, never on a command line."""

from __future__ import annotations

from pathlib import Path

from bot.supervisor import Stack, local_secrets
from crm.secret_strength import weakness

SECRET_NAMES = ("RASA_TOKEN", "WIDGET_IDENTITY_SECRET", "STAFF_SESSION_SECRET", "ACTION_SERVER_TOKEN")


def test_local_secrets_are_made_once_strong_enough_for_production_and_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.env"
    made = local_secrets(path)
    assert set(SECRET_NAMES) <= set(made)
    assert all(weakness(made[name]) is None for name in SECRET_NAMES)
    assert path.stat().st_mode & 0o777 == 0o600
    assert local_secrets(path) == made


def test_no_secret_is_on_any_command_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # `ps` shows every process's arguments to every local user.
    monkeypatch.setattr("bot.supervisor.SECRETS_FILE", tmp_path / "secrets.env")
    stack = Stack(env={"TELEGRAM_WEBHOOK_SECRET": "telegram-secret-0123456789"}, rasa_port=1, action_port=2, gateway_port=3)
    env = stack.child_env()
    secrets = [env[name] for name in (*SECRET_NAMES, "TELEGRAM_WEBHOOK_SECRET")]
    commands = stack.commands(env)
    assert set(commands) == {"actions", "rasa", "gateway", "worker"}
    for name, argv in commands.items():
        line = " ".join(argv)
        assert not any(secret in line for secret in secrets), name
    assert commands["rasa"][1:3] == ["-m", "rasa_ext.serve"]
    assert commands["actions"][1:] == ["-m", "actions.server"]
    assert env["ACTION_PORT"] == "2"
