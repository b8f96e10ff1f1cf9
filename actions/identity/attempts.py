"""Failed attempts at proving who one is: counted in the CRM audit log, per conversation."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.common import channel

from crm.models import AuditEntry
from crm.services.audit import audit


MAX_VERIFICATION_ATTEMPTS = 3
FAILED_ATTEMPT_ACTION = "identity.verify_failed"
NO_MATCH = (
    "Sorry, I couldn't match that order number with that e-mail address. Please check both "
    "against your order confirmation and try again ({attempts_left} left)."
)


def failed_attempts(session: Session, conversation_id: str) -> int:
    return int(
        session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == FAILED_ATTEMPT_ACTION,
                AuditEntry.subject == f"conversation:{conversation_id}"[:128],
            )
        )
        or 0
    )


def record_failed_attempt(session: Session, tracker: Tracker) -> int:
    """Log a miss (no order number or e-mail in it) and return the number of
    misses in this conversation so far."""
    audit(
        session,
        actor="anonymous",
        action=FAILED_ATTEMPT_ACTION,
        subject=f"conversation:{tracker.sender_id}",
        detail={"channel": channel(tracker)},
    )
    session.flush()
    counted = failed_attempts(session, tracker.sender_id)
    in_slot = int(tracker.get_slot("verification_attempts") or 0) + 1
    return max(counted, in_slot)


def failure_events(attempts: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "order_number": None,
        "email": None,
        "verification_attempts": float(attempts),
    }
    if attempts >= MAX_VERIFICATION_ATTEMPTS:
        values["verification_failed"] = True
    return values


def tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


def no_match(attempts: int) -> str:
    """The answer to a wrong pair after `attempts` misses: never which half was wrong."""
    return NO_MATCH.format(attempts_left=tries(MAX_VERIFICATION_ATTEMPTS - attempts))
