"""The half of the harness that runs inside `.venv-rasa` (no pytest there).

Import it before Rasa: it quietens TensorFlow, SQLAlchemy 1.4's warnings and logging.
"""

from __future__ import annotations

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


def run_checks(namespace: dict[str, Any]) -> None:
    """Run the `check_*` functions of `namespace` (those named in argv, or all) when it is
    the main module, and print one JSON object: check name -> "ok" or the traceback."""
    if namespace.get("__name__") != "__main__":
        return
    checks = checks_of(namespace)
    names = sys.argv[1:] or list(checks)
    print(json.dumps({name: _run_one(checks[name]) for name in names}))
