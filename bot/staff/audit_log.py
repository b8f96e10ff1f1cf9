"""The audit log page's rows: newest first, with staff names and the conversation linked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff.console import names_of
from crm.clock import as_utc
from crm.models import AuditEntry


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    subject: str
    conversation_id: str | None
    detail: dict[str, Any]


def audit_log(
    session: Session, *, limit: int, before_id: int | None = None
) -> tuple[list[AuditRow], int | None]:
    """Newest first; the id to pass as `before_id` for the next page, or None at the end."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    entries = list(session.scalars(query))
    more = len(entries) > limit
    entries = entries[:limit]
    staff_ids = {
        int(e.actor.split(":", 1)[1])
        for e in entries
        if e.actor.startswith("staff:") and e.actor[6:].isdigit()
    }
    names = names_of(session, staff_ids)
    rows = []
    for e in entries:
        actor_name = None
        if e.actor.startswith("staff:") and e.actor[6:].isdigit():
            actor_name = names.get(int(e.actor[6:]))
        conversation_id = e.subject.split(":", 1)[1] if e.subject.startswith("conversation:") else None
        rows.append(
            AuditRow(
                at=as_utc(e.at),
                actor=e.actor,
                actor_name=actor_name,
                action=e.action,
                subject=e.subject,
                conversation_id=conversation_id,
                detail=dict(e.detail or {}),
            )
        )
    return rows, (entries[-1].id if more and entries else None)
