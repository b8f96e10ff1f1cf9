"""Handoff packets, the customer a conversation is about, and the feedback customers leave.

Conversation rows are created by the gateway alone (bot/persistence/rows.py),
before Rasa sees a conversation's first message; nothing here creates one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Conversation, Customer, Feedback, Handoff, HandoffStatus
from crm.services import review
from crm.services.customers import customer_segment

FEEDBACK_RANGES = {"csat": (1, 5), "nps": (0, 10)}

# Handoff queue order: higher first.
PRIORITY_COMPLAINT = 10
PRIORITY_VIP = 10
PRIORITY_VERIFICATION_FAILED = 5
_COMPLAINT = {"complaint", "complain"}


def link_customer(session: Session, *, conversation_id: str, customer: Customer) -> Conversation | None:
    """Link a customer verified in the chat to their conversation, if it has nobody yet.

    The gateway creates every conversation row before Rasa sees its first
    message; None when there is no such row (an action run without a gateway,
    e.g. `rasa shell`), and none is created here. A conversation already linked
    to someone keeps them.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    if conversation.customer_id is None:
        conversation.customer_id = customer.id
    return conversation


def open_handoff(session: Session, *, conversation_id: str) -> Handoff | None:
    """The conversation's newest handoff still waiting for or held by a person."""
    return session.scalars(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status.in_([HandoffStatus.queued, HandoffStatus.assigned]),
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()


def handoff_priority(
    session: Session, *, reason: str, intent: str | None, customer: Customer | None
) -> int:
    priority = 0
    if reason in _COMPLAINT or (intent or "") in _COMPLAINT:
        priority += PRIORITY_COMPLAINT
    if customer is not None and customer_segment(session, customer=customer) == "vip":
        priority += PRIORITY_VIP
    if reason == "verification_failed":
        priority += PRIORITY_VERIFICATION_FAILED
    return priority


def record_handoff(
    session: Session,
    *,
    conversation_id: str,
    customer: Customer | None,
    reason: str,
    intent: str | None,
    slots: dict[str, Any],
    order_numbers: list[str],
    verified: bool,
) -> Handoff | None:
    """Queue the packet a person needs to take over; None if the conversation does not exist.

    Only the gateway calls this, in the transaction that moves the conversation
    to the queue (bot/persistence/handoffs.py), so the packet and the state
    never disagree. The conversation is linked to the customer only if the
    customer is verified.
    """
    conversation = (
        link_customer(session, conversation_id=conversation_id, customer=customer)
        if customer is not None and verified
        else session.get(Conversation, conversation_id)
    )
    if conversation is None:
        return None
    handoff = Handoff(
        conversation_id=conversation_id,
        customer_id=customer.id if customer is not None else None,
        reason=reason[:40],
        intent=intent[:60] if intent else None,
        priority=handoff_priority(session, reason=reason, intent=intent, customer=customer),
        verified=verified,
        slots=dict(slots),
        order_numbers=list(order_numbers),
    )
    session.add(handoff)
    session.flush()
    # What the customer asked just before needing a person is worth a look.
    review.queue_last_words(session, conversation_id=conversation_id, reason="before_handoff")
    return handoff


def record_feedback(
    session: Session,
    *,
    conversation_id: str,
    customer: Customer | None,
    score: int,
    kind: str = "csat",
    comment: str | None = None,
    staff_user_id: int | None = None,
) -> Feedback:
    """Store a rating: csat 1-5, nps 0-10; anything else is a ValueError."""
    if kind not in FEEDBACK_RANGES:
        raise ValueError(f"unknown feedback kind {kind!r}; expected one of {sorted(FEEDBACK_RANGES)}")
    low, high = FEEDBACK_RANGES[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValueError(f"a {kind} score is a whole number from {low} to {high}, not {score!r}")
    feedback = Feedback(
        conversation_id=conversation_id,
        customer_id=customer.id if customer is not None else None,
        kind=kind,
        score=score,
        comment=(comment or "").strip() or None,
        staff_user_id=staff_user_id,
    )
    session.add(feedback)
    session.flush()
    if kind == "csat" and score <= review.LOW_RATING:
        review.queue_last_words(session, conversation_id=conversation_id, reason="low_rating")
    return feedback


def feedback_given(session: Session, *, conversation_id: str, kind: str = "csat") -> bool:
    return (
        session.scalar(
            select(Feedback.id)
            .where(Feedback.conversation_id == conversation_id, Feedback.kind == kind)
            .limit(1)
        )
        is not None
    )
