"""Fixtures of the shop-connection tests (tests/bot/shop/): the shop's API models, inbox and shared helpers.

They take `db` and the conversation `rig` from tests/bot/conftest.py.
"""
