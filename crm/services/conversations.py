"""Conversation rows, handoff packets and the feedback customers leave."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import Conversation, ConversationState, Customer, Feedback, Handoff
from crm.services import review
from crm.services._sql import insert_if_absent
from crm.services.customers import customer_segment

FEEDBACK_RANGES = {"csat": (1, 5), "nps": (0, 10)}

# Handoff queue order: higher first.
PRIORITY_COMPLAINT = 10
PRIORITY_VIP = 10
PRIORITY_VERIFICATION_FAILED = 5
_COMPLAINT = {"complaint", "complain"}


def get_or_create_conversation(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    address: str = "",
    customer: Customer | None = None,
) -> Conversation:
    """The conversation, created if new. An existing one keeps its channel and
    address; `customer` only fills a link that is still missing."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        now = utcnow()
        # Two messages of a new conversation may arrive at once: let the
        # database pick the winner instead of failing one of them.
        insert_if_absent(
            session,
            Conversation,
            {
                "id": conversation_id,
                "channel": channel,
                "address": address,
                "customer_id": customer.id if customer is not None else None,
                "state": ConversationState.bot,
                "created_at": now,
                "updated_at": now,
            },
            conflict=["id"],
        )
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:  # pragma: no cover - the insert above guarantees it
            raise RuntimeError(f"conversation {conversation_id} vanished while being created")
    if customer is not None and conversation.customer_id is None:
        conversation.customer_id = customer.id
    return conversation


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
    channel: str,
    customer: Customer | None,
    reason: str,
    intent: str | None,
    slots: dict[str, Any],
    order_numbers: list[str],
    verified: bool,
) -> Handoff:
    """Queue the packet a person needs to take over. The conversation's state
    is the gateway's to change, not this function's; it is linked to the
    customer only if the customer is verified."""
    get_or_create_conversation(
        session,
        conversation_id=conversation_id,
        channel=channel,
        customer=customer if verified else None,
    )
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
