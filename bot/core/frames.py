"""Live frames for the staff console: the one place a message becomes a frame.

`OutboundMessage.as_json` is the message's wire form; every frame about a message
(the customer's own, the bot's, a staff reply, a notice) is built here from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.core.messages import OutboundMessage
from crm.vocabulary import Sender

# Fan-out keys the staff console listens on.
STAFF_QUEUE_KEY = "staff:queue"

Frame = dict[str, Any]


def staff_conversation_key(conversation_id: str) -> str:
    return f"staff:conversation:{conversation_id}"


class Publisher(Protocol):
    async def publish(self, key: str, frame: Frame) -> None: ...


def message_frame(outbound: OutboundMessage, staff_name: str | None = None, **extra: Any) -> Frame:
    """A transcript line as a live frame (`extra`: e.g. the widget's client id)."""
    frame: Frame = {"type": "message", **outbound.as_json(), **extra}
    if staff_name:
        frame["staff_name"] = staff_name
    return frame


def staff_frame(outbound: OutboundMessage, staff_name: str | None = None) -> Frame:
    """A transcript line as the staff console shows it live."""
    return message_frame(outbound, staff_name)


def customer_message(message_id: int, text: str, created_at: datetime | None) -> OutboundMessage:
    """The customer's own stored message, in the shape every other transcript line has."""
    return OutboundMessage(id=str(message_id), sender=Sender.customer, text=text, created_at=created_at)


def queue_frame(event: str, **extra: Any) -> Frame:
    return {"type": "queue", "event": event, **extra}


class Events:
    """Publishes frames when the gateway has a fan-out; a no-op without one."""

    def __init__(self, publisher: Publisher | None) -> None:
        self._publisher = publisher

    async def publish(self, key: str, frame: Frame) -> None:
        if self._publisher is not None:
            await self._publisher.publish(key, frame)

    async def queue(self, event: str, **extra: Any) -> None:
        await self.publish(STAFF_QUEUE_KEY, queue_frame(event, **extra))
