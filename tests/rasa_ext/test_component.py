"""rasa_ext/component.py (ProjectComponent, the base of the project's components), tested in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in component_checks.py and run
there (tests/rasa_env/: one process for every checks module); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_check = rasa_checks("tests.rasa_ext.component_checks")
