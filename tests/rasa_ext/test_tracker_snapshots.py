"""Bounded trackers (snapshots) of rasa_ext/tracker_store.py, tested in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in
tracker_snapshot_checks.py and run there in one subprocess; each becomes a test.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
CHECKS_MODULE = Path(__file__).with_name("tracker_snapshot_checks.py")


def _check_names() -> list[str]:
    tree = ast.parse(CHECKS_MODULE.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]


@pytest.fixture(scope="module")
def results() -> dict[str, str]:
    completed = subprocess.run(
        [str(RASA_PYTHON), "-m", "tests.rasa_ext.tracker_snapshot_checks"],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_check_ran(results: dict[str, str]) -> None:
    assert sorted(results) == sorted(_check_names())


@pytest.mark.parametrize("name", _check_names())
def test_tracker_store(results: dict[str, str], name: str) -> None:
    assert results[name] == "ok", results[name]
