"""Fixtures of the intake tests (tests/bot/intake/): the one door every channel calls.

They take `db`, `unit`, `new_conversation`, `customer`, `fake_rasa`, `twilio` and `unreadable_profile`
from tests/bot/conftest.py, shared with the channel and persistence tests.
"""
