"""bot/cli.py: the commands of `python -m bot`, and that importing the gateway does nothing by itself."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from bot import cli


def test_importing_the_gateway_does_no_work() -> None:
    # A fresh interpreter: importing must not create an engine, read settings or touch logging.
    code = (
        "import logging\n"
        "import bot.app, bot.cli, bot.conversations, bot.channels.widget, bot.settings\n"
        "import crm.db\n"
        "assert crm.db.get_engine.cache_info().currsize == 0\n"
        "assert bot.settings.get_settings.cache_info().currsize == 0\n"
        "assert not logging.getLogger().handlers, logging.getLogger().handlers\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_serve_runs_the_factory_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setenv("GATEWAY_PORT", "8123")
    monkeypatch.setenv("MAX_WS_FRAME_BYTES", "4096")
    cli.get_settings.cache_clear()
    try:
        assert cli.main(["serve", "--host", "0.0.0.0"]) == 0
    finally:
        cli.get_settings.cache_clear()
    assert seen["app"] == "bot.app:create_app" and seen["factory"] is True
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 8123)
    assert seen["ws_max_size"] == 4096
    assert seen["ws_per_message_deflate"] is False
    assert seen["access_log"] is False and seen["log_config"] is None


def test_an_unknown_command_is_an_error() -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["launch"])
    assert exit_.value.code == 2
