"""Conversation rows and the customer lookups the channels need: sync, one session per call.

Each function is one step of a unit of work; the caller owns the session and
commits (see `bot.core.db.UnitOfWork`). Results are plain dataclasses, never
ORM objects, because they cross from a worker thread into the event loop.
Conversation rows are created here and nowhere else (`create_conversation`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.messages import ConversationRef
from crm.clock import as_utc, utcnow
from crm.models import Conversation, ConversationState, Customer, Handoff, HandoffStatus, Message
from crm.services import customers
from crm.services.audit import audit


def _ref(conversation: Conversation, external_id: str | None) -> ConversationRef:
    return ConversationRef(
        id=conversation.id,
        channel=conversation.channel,
        address=conversation.address,
        customer_external_id=external_id,
        locale=conversation.locale,
        state=conversation.state,
    )


def _with_customer(conversation_filter: Any) -> Any:
    return (
        select(Conversation, Customer.external_id)
        .outerjoin(Customer, Conversation.customer_id == Customer.id)
        .where(conversation_filter)
    )


def find_conversation(
    session: Session, *, channel: str, address: str, active_since: datetime | None = None
) -> ConversationRef | None:
    """The newest conversation at `address` on `channel`; with `active_since`, None
    unless it changed or had a message since then (an idle session has expired)."""
    row = session.execute(
        _with_customer((Conversation.channel == channel) & (Conversation.address == address))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    conversation = row[0]
    if active_since is not None and as_utc(conversation.updated_at) < active_since:
        last = session.scalar(
            select(func.max(Message.created_at)).where(Message.conversation_id == conversation.id)
        )
        if last is None or as_utc(last) < active_since:
            return None
    return _ref(conversation, row[1])


def get_conversation(session: Session, *, conversation_id: str) -> ConversationRef | None:
    row = session.execute(_with_customer(Conversation.id == conversation_id)).first()
    return None if row is None else _ref(row[0], row[1])


def customer_pk(session: Session, *, external_id: str) -> int | None:
    return session.scalar(select(Customer.id).where(Customer.external_id == external_id))


def create_conversation(
    session: Session, *, channel: str, address: str, customer_external_id: str | None, locale: str
) -> ConversationRef:
    customer_id = None
    if customer_external_id is not None:
        customer_id = customer_pk(session, external_id=customer_external_id)
        if customer_id is None:
            raise LookupError("no customer with that external id")
    # Opaque and random: never a channel address, so it can be Rasa's sender id and sit in logs.
    conversation = Conversation(
        id=uuid.uuid4().hex,
        channel=channel,
        address=address,
        customer_id=customer_id,
        locale=locale,
        state=ConversationState.bot,
    )
    session.add(conversation)
    session.flush()
    return _ref(conversation, customer_external_id)


class CustomerConflict(ValueError):
    """The conversation already belongs to a different verified customer."""


def bind_customer(
    session: Session, *, conversation_id: str, customer_external_id: str
) -> ConversationRef | None:
    """Link a customer the channel has just verified to the conversation.

    None when there is no such conversation; LookupError for an unknown
    customer. Binding the customer it already has is a no-op. A conversation
    never changes hands: bound to someone else, it raises CustomerConflict and
    the channel starts a new conversation for the newcomer, so nobody reads
    another person's transcript.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    customer_id = customer_pk(session, external_id=customer_external_id)
    if customer_id is None:
        raise LookupError("no customer with that external id")
    if conversation.customer_id is not None and conversation.customer_id != customer_id:
        raise CustomerConflict("the conversation belongs to another customer")
    if conversation.customer_id is None:
        conversation.customer_id = customer_id
        # A handoff waiting for staff shows whom it is about from now on.
        for handoff in session.scalars(
            select(Handoff).where(
                Handoff.conversation_id == conversation_id,
                Handoff.status != HandoffStatus.resolved,
                Handoff.customer_id.is_(None),
            )
        ):
            handoff.customer_id = customer_id
        audit(
            session,
            actor=f"channel:{conversation.channel}",
            action="conversation.bind_customer",
            subject=f"conversation:{conversation_id}",
            detail={"customer": customer_external_id},
        )
        conversation.updated_at = utcnow()
        session.flush()
    return _ref(conversation, customer_external_id)


def customer_by_identity(session: Session, *, channel: str, external_user_id: str) -> str | None:
    """The external id of the customer who linked this channel account (a Telegram user id)."""
    customer = customers.find_customer_by_channel_identity(
        session, channel=channel, external_user_id=external_user_id
    )
    return None if customer is None else customer.external_id


def customer_by_phone(session: Session, *, phone: str) -> str | None:
    """The one customer with this number (E.164); None if unknown or shared by several."""
    customer = customers.find_customer_by_phone(session, phone=phone)
    return None if customer is None else customer.external_id


def link_identity(
    session: Session, *, customer_external_id: str, channel: str, external_user_id: str
) -> bool:
    """Remember that this channel account is the customer's (audited); False if it is someone else's.

    LookupError for an unknown customer.
    """
    customer = customers.get_customer_by_external_id(session, external_id=customer_external_id)
    if customer is None:
        raise LookupError("no customer with that external id")
    try:
        customers.link_channel_identity(
            session, customer=customer, channel=channel, external_user_id=external_user_id
        )
    except ValueError:
        return False
    return True


def customer_phone(session: Session, *, conversation_id: str) -> str | None:
    """A number staff could call back: the SMS sender's, or the verified customer's in the CRM."""
    row = session.execute(
        select(Conversation.channel, Conversation.address, Customer.phone)
        .outerjoin(Customer, Conversation.customer_id == Customer.id)
        .where(Conversation.id == conversation_id)
    ).first()
    if row is None:
        return None
    channel, address, phone = row
    if channel == "sms" and address:
        return str(address)
    return phone


def database_ready(session: Session) -> bool:
    """The schema is there and answers (for /healthz)."""
    session.execute(select(Conversation.id).limit(1))
    return True
