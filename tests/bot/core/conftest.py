"""Fixtures of the conversation-core tests (tests/bot/core/): one module per collaborator of bot/core/.

The core is driven through the conversation `rig` or, for handoffs, `handoff_rig`, with `db`,
`gateway` and `unreadable_profile`: all from tests/bot/conftest.py, shared with the gateway-level tests.
"""
