"""The neutral inbound message every channel builds."""

from __future__ import annotations

from bot.core.messages import InboundMessage


def test_nul_characters_never_reach_storage() -> None:
    # PostgreSQL refuses NUL in text columns; the rest of what the customer wrote is kept.
    message = InboundMessage(channel="sms", conversation_id="c1", channel_message_id="SM1", text="hel\x00lo\x00")
    assert message.text == "hello"
    pressed = InboundMessage(
        channel="web", conversation_id="c1", channel_message_id="m1", payload="/affirm\x00", payload_title="Y\x00es"
    )
    assert (pressed.payload, pressed.payload_title) == ("/affirm", "Yes")
