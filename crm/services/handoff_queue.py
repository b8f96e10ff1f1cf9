"""The staff queue in SQL, once: conversations held for staff, their priority and since when.

Used by the handoff (a customer's place in the queue, bot/handoff.py) and by
the staff console (bot/staff/console.py). A conversation's priority is the
highest of its open handoffs (0 without one), and it has waited since the
oldest open handoff (or its last update without one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import Conversation, ConversationState, Handoff, HandoffStatus


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: str
    priority: int
    since: datetime


def held(session: Session, states: Iterable[ConversationState]) -> list[QueueEntry]:
    """Every conversation in one of `states`, with its priority and since when it waits (unordered)."""
    open_handoffs = Handoff.status != HandoffStatus.resolved
    rows = session.execute(
        select(
            Conversation.id,
            func.coalesce(func.max(Handoff.priority), 0),
            func.min(Handoff.created_at),
            Conversation.updated_at,
        )
        .outerjoin(Handoff, (Handoff.conversation_id == Conversation.id) & open_handoffs)
        .where(Conversation.state.in_(list(states)))
        .group_by(Conversation.id, Conversation.updated_at)
    ).all()
    return [
        QueueEntry(conversation_id=cid, priority=int(priority), since=as_utc(since or updated))
        for cid, priority, since, updated in rows
    ]


def queue(session: Session) -> list[QueueEntry]:
    """Conversations waiting for staff: priority first, then who has waited longest."""
    entries = held(session, [ConversationState.queued])
    entries.sort(key=lambda e: (-e.priority, e.since, e.conversation_id))
    return entries
