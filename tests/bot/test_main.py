"""bot/__main__.py: `python -m bot` runs the command line and exits with its status."""

from __future__ import annotations

import os
import subprocess
import sys


def test_help_lists_serve() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "serve" in result.stdout


def test_the_commands_status_is_the_exit_status() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "launch"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage: python -m bot" in result.stderr and "invalid choice: 'launch'" in result.stderr


def test_a_command_that_fails_exits_with_its_own_status(gateway_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": gateway_db_url}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "keys", "revoke", "424242"], capture_output=True, text=True, env=env
    )
    assert (result.returncode, result.stderr.strip()) == (1, "There is no API key 424242.")
