"""Checks of endpoints.yml and endpoints.scaled.yml as Rasa reads them, run inside `.venv-rasa`
(tests/rasa_env/; test_rasa_endpoints.py makes each a test).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.rasa_env.inside import run_checks

ROOT = Path(__file__).resolve().parents[2]


def check_endpoints_send_the_action_server_token() -> None:
    # A quoted YAML value is not expanded by Rasa: the header would be the literal "${...}".
    from rasa.core.utils import read_endpoints_from_path

    values = {"ACTION_SERVER_TOKEN": "token-from-env-0123456789", "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
              "TRACKER_STORE_URL": "sqlite://", "REDIS_HOST": "localhost", "REDIS_PORT": "6379", "REDIS_LOCK_DB": "1"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        for name in ("endpoints.yml", "endpoints.scaled.yml"):
            action = read_endpoints_from_path(str(ROOT / name)).action
            assert action.headers == {"Authorization": "Bearer token-from-env-0123456789"}, (name, action.headers)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


run_checks(globals())
