"""What the intake service stores: inbound messages the gateway answers itself, and claims.

Sync functions, one step of a unit of work each (the caller owns the session
and commits), like `bot.persistence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot import links
from bot.persistence import claims, transcript
from bot.core.messages import InboundMessage, OutboundMessage
from crm.models import Message, Sender, TurnState


@dataclass(frozen=True)
class Answered:
    duplicate: bool
    # The gateway's answer, stored in the transcript, if it has one.
    reply: OutboundMessage | None = None


def record_answered(
    session: Session,
    *,
    inbound: InboundMessage,
    reply: str | None,
    data: dict[str, Any],
    event: dict[str, Any] | None = None,
) -> Answered:
    """Store a customer message the assistant never sees (a keyword, a Telegram /start, a
    sticker) and the gateway's answer to it (`data` goes with the answer, `event` with the
    customer's message): once per channel message id, atomically, so a redelivery - to this
    gateway, another one, or after a restart - is a duplicate."""
    claim = claims.claim_inbound(session, inbound=inbound)
    if claim is None:
        return Answered(duplicate=True)
    # Answered here and now, in the claim's own transaction: no turn is left open.
    session.execute(
        update(Message)
        .where(Message.id == claim.message_id)
        .values(turn_state=TurnState.answered, **({"data": event} if event else {}))
    )
    outbound = None
    if reply is not None:
        outbound = add_note(
            session, conversation_id=inbound.conversation_id, channel=inbound.channel, text=reply, data=data
        )
    return Answered(duplicate=False, reply=outbound)


def add_note(
    session: Session, *, conversation_id: str, channel: str, text: str, data: dict[str, Any]
) -> OutboundMessage:
    """Store words the gateway says itself (not the assistant, not staff) in the transcript."""
    return transcript.add_outbound(
        session, conversation_id=conversation_id, channel=channel, sender=Sender.system, text=text, data=data
    )


def claim_once(session: Session, *, key: str, now: datetime, keep: timedelta) -> bool:
    """True the first time `key` is claimed (for updates with no conversation to store them in:
    a command in a group chat), False on every later try; claims older than `keep` are pruned."""
    return links.claim_link(session, token=f"update:{key}", now=now, keep=keep)
