"""The half of the harness that runs inside `.venv-rasa` (no pytest there).

    python -m tests.rasa_env.inside tests.rasa_ext.channel_checks tests.x.y_checks ...

imports each checks module, runs its `check_*` functions and prints one JSON object:
module -> check name -> "ok" or the traceback (a module that fails to import reports
that under "<import>"). One process for every module: Rasa is imported once.

A checks module imports this module before Rasa (it quietens TensorFlow, SQLAlchemy
1.4's warnings and logging) and ends with `run_checks(globals())`, so that it can
also be run alone: `python -m tests.rasa_ext.channel_checks`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
logging.disable(logging.WARNING)


def checks_of(namespace: dict[str, Any]) -> dict[str, Callable[..., None]]:
    return {name: fn for name, fn in sorted(namespace.items()) if name.startswith("check_") and callable(fn)}


def _run_one(check: Callable[..., None]) -> str:
    try:
        if inspect.signature(check).parameters:
            with tempfile.TemporaryDirectory() as scratch:
                check(Path(scratch))
        else:
            check()
        return "ok"
    except Exception:  # each check's failure is reported, the others still run
        return traceback.format_exc()


def results_of(module: str) -> dict[str, str]:
    try:
        namespace = vars(importlib.import_module(module))
    except Exception:  # reported as the module's one result; the other modules still run
        return {"<import>": traceback.format_exc()}
    return {name: _run_one(check) for name, check in checks_of(namespace).items()}


def run_checks(namespace: dict[str, Any]) -> None:
    """When a checks module is the main module: run its checks, print name -> result as JSON."""
    if namespace.get("__name__") == "__main__":
        print(json.dumps({name: _run_one(check) for name, check in checks_of(namespace).items()}))


if __name__ == "__main__":
    print(json.dumps({module: results_of(module) for module in sys.argv[1:]}))
