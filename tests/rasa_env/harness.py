"""The pytest half: every checks module the session collected runs in one `.venv-rasa`
process (Rasa takes long to import), the first time a test needs a result; each check is a test."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def check_names(module: str) -> list[str]:
    """The `check_*` functions a checks module defines, read without importing it (it needs Rasa)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]


_MODULES: list[str] = []
_RESULTS: dict[str, dict[str, str]] = {}


def run_in_rasa_env(modules: list[str]) -> dict[str, dict[str, str]]:
    completed = subprocess.run(
        [str(RASA_PYTHON), "-m", "tests.rasa_env.inside", *modules],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def results_of(module: str) -> dict[str, str]:
    """The module's results, running it (with every collected module not run yet) if need be."""
    if module not in _RESULTS:
        _RESULTS.update(run_in_rasa_env([m for m in _MODULES if m not in _RESULTS] or [module]))
    return _RESULTS[module]


def rasa_checks(module: str) -> tuple[Any, Callable[..., None], Callable[..., None]]:
    """(the `results` fixture, a test that every check ran, a test per check), for a test module
    to bind: `results, test_every_check_ran, test_check = rasa_checks("tests.x.y_checks")`."""
    names = check_names(module)
    _MODULES.append(module)

    @pytest.fixture(scope="module")
    def results() -> dict[str, str]:
        return results_of(module)

    def test_every_check_ran(results: dict[str, str]) -> None:
        assert sorted(results) == sorted(names)

    @pytest.mark.parametrize("name", names)
    def test_check(results: dict[str, str], name: str) -> None:
        assert results[name] == "ok", results[name]

    return results, test_every_check_ran, test_check
