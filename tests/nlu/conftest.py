"""Fixtures of the NLU data tests (tests/nlu/): the training data's quality guard and the held-out sets.

None are shared: each test reads data/nlu and tests/nlu/*.yml itself; accuracy on the held-out
sets is measured end to end in tests/e2e/test_paraphrases.py.
"""
