"""The channel-neutral vocabulary: what comes in, what goes out, and how it goes out.

No ORM import: the enums come from `crm.vocabulary`, a plain module the schema imports too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm.vocabulary import ConversationState, Sender


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class ConversationRef:
    """A conversation as channels see it; plain data, safe to pass between tasks."""

    id: str
    channel: str
    # Where replies go on the channel (widget: the session token's hash).
    address: str
    customer_external_id: str | None
    locale: str
    state: ConversationState


@dataclass(frozen=True)
class InboundMessage:
    """One customer message, verified by its channel. Exactly one of `text` and `payload`."""

    channel: str
    conversation_id: str
    # The channel's own id for it (widget client id, Telegram update id, Twilio MessageSid):
    # unique per channel, it is what makes a redelivery a duplicate.
    channel_message_id: str
    text: str = ""
    # A button the customer pressed, and the title they saw on it.
    payload: str | None = None
    payload_title: str | None = None
    # Set by the channel only for a customer it verified. What Rasa is told comes
    # from the conversation's stored customer, which only verified paths set.
    customer_external_id: str | None = None
    locale: str = "en"
    # Where the message came from as the channel saw it (the widget visitor's IP
    # address); goes to Rasa as metadata for limits that a new session must not reset.
    client_address: str | None = None

    def __post_init__(self) -> None:
        # NUL can't be stored in a PostgreSQL text column and means nothing to a reader
        # (found by fuzzing the SMS form): every channel's text loses it here, once.
        for name in ("text", "payload", "payload_title"):
            value = getattr(self, name)
            if value and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))


@dataclass(frozen=True)
class OutboundMessage:
    id: str  # the stored message's id
    sender: Sender  # bot, agent or system
    text: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    created_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "from": self.sender.value,
            "text": self.text,
            "buttons": [b.as_json() for b in self.buttons],
        }
        if self.image:
            data["image"] = self.image
        if self.created_at is not None:
            data["ts"] = self.created_at.isoformat()
        return data


@dataclass(frozen=True)
class BotReply:
    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    custom: dict[str, Any] | None = None

    @property
    def handoff(self) -> dict[str, Any] | None:
        value = (self.custom or {}).get("handoff")
        return value if isinstance(value, dict) else None

    @property
    def visible(self) -> bool:
        """Whether a customer would see anything of it (a bare handoff signal is not shown)."""
        return bool(self.text or self.buttons or self.image)


def unstored_reply(reply: BotReply, *, id: str, created_at: datetime) -> OutboundMessage:
    """A bot reply delivered before (or without) being stored: it has no transcript id yet."""
    return OutboundMessage(
        id=id,
        sender=Sender.bot,
        text=reply.text,
        buttons=reply.buttons,
        image=reply.image,
        created_at=created_at,
    )


class DeliveryFailed(Exception):
    """A message was stored but its channel could not take it; every channel's `send` raises it
    when the platform refuses a message."""


class Channel(Protocol):
    """Outbound side of a channel adapter. `send` must not block on a slow customer."""

    name: str

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None: ...

    async def typing(self, conversation: ConversationRef, on: bool) -> None: ...
