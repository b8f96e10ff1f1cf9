"""The inbound de-duplication claim: a customer message is stored once per channel message id.

The unique (channel, channel_message_id) constraint decides, in the database, so two
gateways receiving the same delivery at the same instant still store it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.messages import InboundMessage
from bot.persistence.transcript import offered_payloads, touch
from crm.clock import as_utc, utcnow
from crm.models import Message, Sender, TurnState
from crm.services import notices


@dataclass(frozen=True)
class Claim:
    """A customer message that won the de-duplication claim and is now stored."""

    message_id: int
    text: str
    created_at: datetime
    rejection: str | None  # "bad_payload": stored, but not for the assistant
    # The order of the notice this message answers (the shop spoke first), if any.
    notice_order: str | None = None


def claim_inbound(session: Session, *, inbound: InboundMessage) -> Claim | None:
    """Store a customer message; None if its channel message id is already stored.

    The unique (channel, channel_message_id) constraint decides, so two gateways
    receiving the same delivery at the same instant still store it once.
    """
    data: dict[str, Any] | None = None
    rejection = None
    text = inbound.text
    if inbound.payload is not None:
        text = inbound.payload_title or inbound.payload
        data = {"payload": inbound.payload, "title": inbound.payload_title}
        if inbound.payload not in offered_payloads(session, conversation_id=inbound.conversation_id):
            rejection = "bad_payload"
            data["rejected"] = rejection
    message = Message(
        conversation_id=inbound.conversation_id,
        channel=inbound.channel,
        channel_message_id=inbound.channel_message_id,
        sender=Sender.customer,
        text=text,
        data=data,
        # Stored and acknowledged in one step: from here on the turn must end in an answer or an apology.
        turn_state=TurnState.rejected if rejection else TurnState.received,
        turn_updated_at=utcnow(),
    )
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        stored = session.scalar(
            select(Message.id).where(
                Message.channel == inbound.channel,
                Message.channel_message_id == inbound.channel_message_id,
            )
        )
        if stored is None:
            raise  # some other constraint (an unknown conversation): not a duplicate
        return None
    touch(session, inbound.conversation_id)
    answered = notices.mark_replied(session, conversation_id=inbound.conversation_id)
    return Claim(
        message_id=message.id,
        text=text,
        created_at=as_utc(message.created_at),
        rejection=rejection,
        notice_order=answered.order.number if answered is not None and answered.order is not None else None,
    )
