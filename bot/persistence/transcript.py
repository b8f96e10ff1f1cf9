"""The transcript: messages stored, read back, and turned into neutral outbound messages.

Sync, one session per call; the caller commits. Only plain data leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.messages import Button, OutboundMessage
from crm.clock import as_utc, utcnow
from crm.db import expire_loaded
from crm.models import Conversation, Delivery, Message, Sender

# How far back to look for the buttons a customer may press.
_BUTTON_LOOKBACK = 20


@dataclass(frozen=True)
class MessageView:
    """A stored message as someone reads it back: which one, from whom, what it said, when.

    Each reader's view adds its own fields: the customer's history (`TranscriptEntry`)
    and the staff console's line (`bot.staff.console.Line`).
    """

    id: int
    sender: Sender
    text: str
    created_at: datetime

    @classmethod
    def of(cls, message: Message, **added: Any) -> Self:
        return cls(
            id=message.id,
            sender=message.sender,
            text=message.text,
            created_at=as_utc(message.created_at),
            **added,
        )


@dataclass(frozen=True)
class TranscriptEntry(MessageView):
    buttons: tuple[Button, ...]
    image: str | None
    channel_message_id: str | None


def latest_messages(session: Session, *, conversation_id: str, limit: int) -> list[Message]:
    """The conversation's latest `limit` stored messages, newest first."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )


def transcript(session: Session, *, conversation_id: str, limit: int) -> list[TranscriptEntry]:
    """The latest `limit` messages a customer can see, oldest first."""
    entries = []
    for message in reversed(latest_messages(session, conversation_id=conversation_id, limit=limit)):
        buttons = buttons_of(message.data)
        image = (message.data or {}).get("image")
        if not (message.text or buttons or image):
            continue  # a bare custom payload, e.g. the handoff signal
        if is_suppressed(message):
            continue  # never delivered: a person took over first
        entries.append(
            TranscriptEntry.of(
                message,
                buttons=buttons,
                image=image if isinstance(image, str) else None,
                channel_message_id=message.channel_message_id,
            )
        )
    return entries


def offered_payloads(session: Session, *, conversation_id: str) -> set[str]:
    """Payloads of the buttons in the bot's latest turn (its last run of messages).

    The gateway's own messages belong to that run (the out-of-hours choice
    after a handoff has buttons); replies a customer never saw do not.
    """
    recent = latest_messages(session, conversation_id=conversation_id, limit=_BUTTON_LOOKBACK)
    payloads: set[str] = set()
    in_turn = False
    for message in recent:
        if is_suppressed(message):
            continue
        if message.sender == Sender.bot or (message.sender == Sender.system and buttons_of(message.data)):
            in_turn = True
            payloads.update(b.payload for b in buttons_of(message.data))
        elif in_turn:
            break
    return payloads


def add_outbound(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    sender: Sender,
    text: str,
    data: dict[str, Any] | None = None,
    pending: bool = False,
) -> OutboundMessage:
    """Store a message to the customer; `pending`: the gateway sends it next (bot/redelivery.py)."""
    message = Message(
        conversation_id=conversation_id,
        channel=channel,
        sender=sender,
        text=text,
        data=data,
        delivery=Delivery.pending if pending else None,
    )
    session.add(message)
    session.flush()
    touch(session, conversation_id)
    return as_outbound(message)


def touch(session: Session, conversation_id: str) -> None:
    """The conversation was active now (one UPDATE: no row loaded for it)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    expire_loaded(session, Conversation, conversation_id)


def is_suppressed(message: Message) -> bool:
    return bool((message.data or {}).get("suppressed"))


def buttons_of(data: dict[str, Any] | None) -> tuple[Button, ...]:
    raw = (data or {}).get("buttons") or []
    return tuple(
        Button(title=str(b.get("title", "")), payload=str(b["payload"]))
        for b in raw
        if isinstance(b, dict) and b.get("payload")
    )


def as_outbound(message: Message) -> OutboundMessage:
    image = (message.data or {}).get("image")
    return OutboundMessage(
        id=str(message.id),
        sender=message.sender,
        text=message.text,
        buttons=buttons_of(message.data),
        image=image if isinstance(image, str) else None,
        created_at=as_utc(message.created_at),
    )
