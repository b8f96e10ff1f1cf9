"""rasa_ext/rule_policy.py (RulePolicy's rule matching stopped at the longest rule), tested
in Rasa's own environment.

`.venv-rasa` has Rasa but no pytest, so the checks live in rule_policy_checks.py and run
there (tests/rasa_env/: one process for every checks module); each becomes a test.
"""

from __future__ import annotations

from tests.rasa_env.harness import rasa_checks

results, test_every_check_ran, test_check = rasa_checks("tests.rasa_ext.rule_policy_checks")
