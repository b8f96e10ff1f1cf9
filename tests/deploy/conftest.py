"""Fixtures of the deployment tests (tests/deploy/): the shipped systemd units, read as files.

None are needed: each test parses deploy/systemd/ itself.
"""
