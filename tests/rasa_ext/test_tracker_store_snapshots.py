"""Bounded trackers (snapshots) of rasa_ext/tracker_store.py, tested in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in
tracker_snapshot_checks.py and run there in one subprocess (tests/rasa_env/); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_tracker_store = rasa_checks("tests.rasa_ext.tracker_snapshot_checks")
