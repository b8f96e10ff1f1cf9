"""Fixtures of the channel adapter tests (tests/bot/channels/): the wire format in, neutral messages out.

Adapters are driven through a real gateway (`start_gateway`, `gateway`, `fake_rasa`) or the conversation
rig (`rig`), all from tests/bot/conftest.py; SMS tests add the fake Twilio API (`twilio`), and the
Telegram tests live in channels/telegram/ with their own conftest.
"""
