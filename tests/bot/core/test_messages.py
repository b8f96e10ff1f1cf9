"""bot/core/messages.py: the neutral message types, importable without the ORM."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

from bot.core.messages import BotReply, Button, InboundMessage, OutboundMessage
from crm.vocabulary import Sender


def test_the_neutral_types_import_no_orm_and_no_channel() -> None:
    probe = (
        "import sys, bot.core.messages\n"
        "bad = [m for m in sys.modules if m.startswith(('sqlalchemy', 'crm.models', 'bot.channels'))]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_inbound_text_loses_nul_characters_once_for_every_channel() -> None:
    inbound = InboundMessage(
        channel="web",
        conversation_id="c",
        channel_message_id="1",
        text="a\x00b",
        payload="/x\x00",
        payload_title="\x00T",
    )
    assert (inbound.text, inbound.payload, inbound.payload_title) == ("ab", "/x", "T")



def test_nul_characters_never_reach_storage() -> None:
    # PostgreSQL refuses NUL in text columns; the rest of what the customer wrote is kept.
    message = InboundMessage(channel="sms", conversation_id="c1", channel_message_id="SM1", text="hel\x00lo\x00")
    assert message.text == "hello"
    pressed = InboundMessage(
        channel="web", conversation_id="c1", channel_message_id="m1", payload="/affirm\x00", payload_title="Y\x00es"
    )
    assert (pressed.payload, pressed.payload_title) == ("/affirm", "Yes")

def test_an_outbound_message_as_json_has_image_and_time_only_when_set() -> None:
    bare = OutboundMessage(id="1", sender=Sender.bot, text="hi", buttons=(Button("Yes", "/affirm"),))
    assert bare.as_json() == {
        "id": "1",
        "from": "bot",
        "text": "hi",
        "buttons": [{"title": "Yes", "payload": "/affirm"}],
    }
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    full = OutboundMessage(id="2", sender=Sender.system, text="", image="https://x/y.png", created_at=at)
    assert full.as_json()["image"] == "https://x/y.png"
    assert full.as_json()["ts"] == "2026-01-02T03:04:05+00:00"


def test_a_bot_reply_knows_a_bare_handoff_signal_is_invisible() -> None:
    signal = BotReply(custom={"handoff": {"reason": "request_human"}})
    assert signal.handoff == {"reason": "request_human"}
    assert not signal.visible
    assert BotReply(text="hello").visible and BotReply(text="hello").handoff is None
