"""The custom NLU components (rasa_ext/) tested in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in
rasa_component_checks.py and run there in one subprocess (tests/rasa_env/); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_component = rasa_checks("tests.nlu.rasa_component_checks")
