"""When to ask "How likely are you to recommend us?", and storing the answer.

Asked only of a known customer (the 90-day rule needs to know who they are),
after a conversation that ended well, at most once every 90 days, and never
within 24 hours of a complaint. Every time it is asked is recorded, answered
or not: a customer who ignored it is not asked again the next day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm.models import Conversation, Customer, Feedback, Handoff, Message, NpsInvitation, Order, OrderStatus
from crm.services.conversations import record_feedback

ASK_EVERY = timedelta(days=90)
COMPLAINT_COOL_DOWN = timedelta(hours=24)
# A delivery this recent makes a conversation about it one that ended well.
RECENT_DELIVERY = timedelta(days=14)
COMPLAINT_INTENTS = ("complaint", "complain")


def ended_well(
    session: Session, *, customer: Customer | None, csat: int | None, resolved: bool, now: datetime
) -> bool:
    """Resolved, rated 4-5, or about an order delivered lately; never after a rating of 1-2."""
    if csat is not None and csat <= 2:
        return False
    if resolved or (csat is not None and csat >= 4):
        return True
    if customer is None:
        return False
    delivered = session.scalar(
        select(Order.id)
        .where(
            Order.customer_id == customer.id,
            Order.status == OrderStatus.delivered,
            Order.delivered_at >= now - RECENT_DELIVERY,
        )
        .limit(1)
    )
    return delivered is not None


def complained_lately(session: Session, *, customer: Customer, now: datetime) -> bool:
    since = now - COMPLAINT_COOL_DOWN
    handed = session.scalar(
        select(Handoff.id)
        .where(
            Handoff.customer_id == customer.id,
            Handoff.created_at >= since,
            or_(Handoff.reason == "complaint", Handoff.intent.in_(COMPLAINT_INTENTS)),
        )
        .limit(1)
    )
    if handed is not None:
        return True
    said = session.scalar(
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.customer_id == customer.id,
            Message.created_at >= since,
            Message.intent.in_(COMPLAINT_INTENTS),
        )
        .limit(1)
    )
    if said is not None:
        return True
    low = session.scalar(
        select(Feedback.id)
        .where(
            Feedback.customer_id == customer.id,
            Feedback.kind == "csat",
            Feedback.score <= 2,
            Feedback.created_at >= since,
        )
        .limit(1)
    )
    return low is not None


def asked_lately(session: Session, *, customer: Customer, now: datetime) -> bool:
    return (
        session.scalar(
            select(NpsInvitation.id)
            .where(NpsInvitation.customer_id == customer.id, NpsInvitation.asked_at > now - ASK_EVERY)
            .limit(1)
        )
        is not None
    )


def may_ask(session: Session, *, customer: Customer | None, now: datetime) -> bool:
    if customer is None:
        return False
    return not asked_lately(session, customer=customer, now=now) and not complained_lately(
        session, customer=customer, now=now
    )


def record_invitation(
    session: Session, *, customer: Customer, conversation_id: str, channel: str, now: datetime
) -> NpsInvitation:
    invitation = NpsInvitation(
        customer_id=customer.id, conversation_id=conversation_id, channel=channel[:20], asked_at=now
    )
    session.add(invitation)
    session.flush()
    return invitation


def record_answer(
    session: Session,
    *,
    customer: Customer | None,
    conversation_id: str,
    channel: str,
    score: int,
    reason: str | None,
) -> Feedback:
    """Store an NPS answer (0-10) with its channel and time; one per conversation."""
    existing = session.scalar(
        select(Feedback).where(Feedback.conversation_id == conversation_id, Feedback.kind == "nps").limit(1)
    )
    if existing is not None:
        if reason and not existing.comment:
            existing.comment = reason.strip()[:2000] or None
        return existing
    feedback = record_feedback(
        session, conversation_id=conversation_id, customer=customer, score=score, kind="nps",
        comment=(reason or "")[:2000] or None,
    )  # fmt: skip
    feedback.channel = channel[:20]
    return feedback
