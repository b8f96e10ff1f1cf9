"""Limits on in-chat verification that a new conversation does not reset.

Counted in the CRM (crm.services.verification_limits) per order number, per
e-mail and per client address, the last taken from the gateway's metadata
(`client`: the widget visitor's IP address, the SMS number, the Telegram
chat), which customers cannot set. When a limit is reached the customer is
told how long verification is paused; a person is brought in at most once per
customer and address in that window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import channel, message_metadata
from crm.models import AuditEntry
from crm.services import verification_limits as limits
from crm.services.audit import audit
from crm.settings import get_settings

BLOCKED_ACTION = "identity.verify_blocked"
LOCKED = (
    "For your security I've paused checking order details for about {minutes} minutes, after too many "
    "unsuccessful tries. Please try again after that."
)
HANDING_OVER = "I'm passing you to a person from our team who can help."
ALREADY_ASKED = "Our team has already been asked to look into this, so please try again later."


@dataclass(frozen=True)
class Block:
    minutes: int | None
    handoff: bool


def client_address(tracker: Tracker) -> str | None:
    value = message_metadata(tracker).get("client")
    return value[:200] if isinstance(value, str) and value else None


def attempt_for(tracker: Tracker, *, order_number: str | None, email: str | None) -> limits.Attempt:
    return limits.Attempt(order_number=order_number, email=email, client=client_address(tracker))


def locked_until(session: Session, attempt: limits.Attempt, now: datetime) -> datetime | None:
    return limits.locked_until(session, attempt=attempt, settings=get_settings(), now=now)


def record(session: Session, attempt: limits.Attempt, now: datetime) -> None:
    limits.record_failure(session, attempt=attempt, settings=get_settings(), now=now)


def block(
    session: Session, tracker: Tracker, attempt: limits.Attempt, *, until: datetime | None, now: datetime
) -> Block:
    """Verification is over for this conversation: decide (once per window) whether a person comes in."""
    subjects = [("order", attempt.order_number or ""), ("email", attempt.email or ""), ("client", attempt.client or "")]
    handoff = limits.claim_handoff(session, subjects=subjects, settings=get_settings(), now=now)
    minutes = limits.minutes_until(until, now) if until is not None else None
    audit(
        session,
        actor="anonymous",
        action=BLOCKED_ACTION,
        subject=f"conversation:{tracker.sender_id}",
        detail={"channel": channel(tracker), "locked_minutes": minutes, "handoff": handoff},
    )
    session.flush()
    return Block(minutes=minutes, handoff=handoff)


def last_block(session: Session, conversation_id: str) -> Block | None:
    detail: dict[str, Any] | None = session.scalar(
        select(AuditEntry.detail)
        .where(AuditEntry.action == BLOCKED_ACTION, AuditEntry.subject == f"conversation:{conversation_id}"[:128])
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if detail is None:
        return None
    minutes = detail.get("locked_minutes")
    return Block(minutes=minutes if isinstance(minutes, int) else None, handoff=bool(detail.get("handoff")))
