"""Fixtures of the script tests (tests/scripts/): the pure parts of bench, NLU report and test-mirror scripts.

None are needed: each test calls the script's functions on data it makes.
"""
