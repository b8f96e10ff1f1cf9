"""rasa_ext/http_session.py (Rasa's action calls on one kept HTTP session), tested in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in http_session_checks.py and run
there (tests/rasa_env/: one process for every checks module); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_check = rasa_checks("tests.rasa_ext.http_session_checks")
