"""Helpers of the identity action tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity import FAILED_ATTEMPT_ACTION
from crm.models import AuditEntry


def failed_attempts_of(session: Session, conversation_id: str) -> int:
    """How many failed verification attempts the audit log holds for this conversation."""
    session.expire_all()
    return len(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == FAILED_ATTEMPT_ACTION,
                AuditEntry.subject == f"conversation:{conversation_id}",
            )
        ).all()
    )
