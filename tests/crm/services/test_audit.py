"""crm.services.audit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import AuditEntry
from crm.services import audit


def test_audit_writes_an_entry(session: Session) -> None:
    entry = audit(session, actor="staff:3", action="order.cancel", subject="order:1043", detail={"why": "asked"})
    session.flush()
    stored = session.scalars(select(AuditEntry).where(AuditEntry.id == entry.id)).one()
    assert (stored.actor, stored.action, stored.subject, stored.detail) == ("staff:3", "order.cancel", "order:1043", {"why": "asked"})
    assert abs((as_utc(stored.at) - utcnow()).total_seconds()) < 60


def test_audit_defaults(session: Session) -> None:
    entry = audit(session, actor="system", action="demo.seed")
    session.flush()
    assert (entry.subject, entry.detail) == ("", {})
