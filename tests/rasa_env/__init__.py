"""Checks that need Rasa, run in `.venv-rasa` (Rasa's Python, which has no pytest) from pytest.

A checks module (e.g. tests/rasa_ext/channel_checks.py) imports `tests.rasa_env.inside`
first, defines `check_*` functions (each raises AssertionError on failure; one that takes
a parameter gets a fresh scratch directory) and ends with `run_checks(globals())`.
Its pytest module calls `tests.rasa_env.harness.rasa_checks(...)`: one subprocess
runs every check, each check becomes a test.
"""
