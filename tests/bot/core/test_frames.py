"""bot/core/frames.py: the one serialiser from a message to a live frame."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.core.frames import (
    STAFF_QUEUE_KEY,
    Events,
    customer_message,
    message_frame,
    staff_conversation_key,
    staff_frame,
)
from bot.core.messages import OutboundMessage
from crm.vocabulary import Sender

AT = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def test_the_customers_own_message_has_the_frame_every_other_line_has() -> None:
    frame = staff_frame(customer_message(7, "where is my order", AT))
    assert frame == {
        "type": "message",
        "id": "7",
        "from": "customer",
        "text": "where is my order",
        "buttons": [],
        "ts": AT.isoformat(),
    }


def test_a_staff_reply_frame_names_who_wrote_it_and_a_bot_frame_does_not() -> None:
    reply = OutboundMessage(id="8", sender=Sender.agent, text="Hello, Sam here", created_at=AT)
    assert staff_frame(reply, "Sam")["staff_name"] == "Sam"
    assert "staff_name" not in staff_frame(OutboundMessage(id="9", sender=Sender.bot, text="hi"))


def test_extra_fields_ride_along_in_the_same_frame() -> None:
    frame = message_frame(customer_message(1, "hi", AT), client_id="c-1")
    assert frame["client_id"] == "c-1" and frame["type"] == "message" and frame["from"] == "customer"


def test_keys() -> None:
    assert staff_conversation_key("abc") == "staff:conversation:abc"
    assert STAFF_QUEUE_KEY == "staff:queue"


class Recorder:
    def __init__(self) -> None:
        self.frames: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, key: str, frame: dict[str, Any]) -> None:
        self.frames.append((key, frame))


async def test_events_publish_through_the_fanout_and_are_a_no_op_without_one() -> None:
    recorder = Recorder()
    await Events(recorder).queue("handoff", conversation_id="c")
    assert recorder.frames == [
        (STAFF_QUEUE_KEY, {"type": "queue", "event": "handoff", "conversation_id": "c"})
    ]
    await Events(None).queue("handoff")  # nothing to publish to: nothing raised



async def test_a_customers_tabs_get_each_message_once_and_no_staff_frames(gateway: Any) -> None:
    """Two audiences, two keys: a customer's tabs (the conversation's key, written by the widget
    adapter) and staff consoles (the staff key, written by the core). A second tab of the
    session hears the customer's message and the reply exactly once, and staff-only frames
    (state, reload, queue) never reach a customer's browser."""
    async with gateway.connect() as first:
        session = await first.recv()
        await first.recv()  # history
        async with gateway.connect(session=session["session"]) as second:
            await second.recv()  # history
            await first.say("c-1", "hello from tab one")
            frames = await second.quiet(1.0)
    customer = [f for f in frames if f["type"] == "message" and f["from"] == "customer"]
    bot = [f for f in frames if f["type"] == "message" and f["from"] != "customer"]
    assert [f["client_id"] for f in customer] == ["c-1"]
    assert [f["text"] for f in bot] == ["echo: hello from tab one"]
    assert not [f for f in frames if f["type"] in ("state", "reload", "queue")]
