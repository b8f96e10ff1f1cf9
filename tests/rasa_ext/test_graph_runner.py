"""rasa_ext/graph_runner.py (Rasa's graph run in order, without dask's scheduler), tested in Rasa's
own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in graph_runner_checks.py and run there
(tests/rasa_env/: one process for every checks module); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_check = rasa_checks("tests.rasa_ext.graph_runner_checks")
