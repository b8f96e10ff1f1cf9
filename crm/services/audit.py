"""The audit trail: who did what to whom. Callers pass no personal content."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.models import AuditEntry


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(actor=actor[:64], action=action[:60], subject=subject[:128], detail=detail or {})
    session.add(entry)
    return entry
