"""rasa_ext.serve: Rasa's API token reaches Rasa without appearing on a command line."""

from __future__ import annotations

import pytest

from rasa_ext.serve import rasa_arguments

TOKEN = "rasa-api-token-0123456789abcdef"


def test_the_token_is_added_inside_the_process() -> None:
    assert rasa_arguments(["run", "--enable-api"], TOKEN) == ["rasa", "run", "--enable-api", "--auth-token", TOKEN]


@pytest.mark.parametrize("argv", [["run", "--auth-token", TOKEN], ["run", f"--auth-token={TOKEN}"]])
def test_a_token_on_the_command_line_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match="RASA_TOKEN"):
        rasa_arguments(argv, TOKEN)


def test_rasa_does_not_start_without_a_token() -> None:
    with pytest.raises(SystemExit, match="RASA_TOKEN must be set"):
        rasa_arguments(["run"], "short")
