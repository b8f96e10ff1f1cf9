"""Rasa's own checks: the data validates, and the conversation tests in
tests/test_stories.yml pass against the real action server."""

from __future__ import annotations

import os
import subprocess

from bot.supervisor import ROOT

RASA = str(ROOT / ".venv-rasa" / "bin" / "rasa")


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


# The gateway triggers this intent itself (trigger_intent after staff resolve);
# no customer says it, and a one-example class in the NLU data drew uncertain
# customer messages into the fallback.
TRIGGER_ONLY = "The intent 'handoff_resolved' is listed in the domain file, but is not found in the NLU training data."


def test_rasa_data_validate_is_clean() -> None:
    result = subprocess.run(
        [RASA, "data", "validate", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    warnings = [
        line for line in output.splitlines() if "UserWarning" in line and TRIGGER_ONLY not in line
    ]
    assert warnings == [], warnings


def test_conversation_stories_pass_with_real_action_server() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "test-stories.sh"), "tests/test_stories.yml"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]


def test_there_are_at_least_thirty_conversation_tests() -> None:
    import yaml

    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"]
    assert len(stories) >= 30
