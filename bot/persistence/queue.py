"""Queue queries for the customer: their place in the queue and the typical wait.

The queue itself (every conversation in state `queued`, highest priority first,
then longest waiting) is written once, in crm/services/handoff_queue.py, which
the staff console uses too. Sync, one session per call; the caller commits.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import Handoff
from crm.services.handoff_queue import QueueEntry, queue

DEFAULT_WAIT = timedelta(minutes=10)
# Recent waits (handoff to a person taking it) that the estimate is drawn from.
_WAIT_SAMPLE = 20
_WAIT_WINDOW = timedelta(days=14)
_MIN_SAMPLES = 3

# QueueEntry and queue are re-exported: the customer-facing handoff code imports the queue from here.
__all__ = ["DEFAULT_WAIT", "QueueEntry", "QueueStatus", "queue", "queue_status", "typical_wait"]


@dataclass(frozen=True)
class QueueStatus:
    position: int | None  # 1 is next; None once the conversation is no longer waiting
    waiting: int  # conversations in the queue
    typical_wait: timedelta
    from_history: bool  # False: too few recent waits, `typical_wait` is the default


def typical_wait(
    session: Session, *, now: datetime, default: timedelta = DEFAULT_WAIT
) -> tuple[timedelta, bool]:
    """The median time recent handoffs waited for a person, and whether history was enough."""
    rows = session.execute(
        select(Handoff.created_at, Handoff.assigned_at)
        .where(Handoff.assigned_at.is_not(None), Handoff.created_at >= now - _WAIT_WINDOW)
        .order_by(Handoff.assigned_at.desc())
        .limit(_WAIT_SAMPLE)
    ).all()
    waits = [
        (as_utc(assigned) - as_utc(created)).total_seconds()
        for created, assigned in rows
        if assigned is not None and assigned >= created
    ]
    if len(waits) < _MIN_SAMPLES:
        return default, False
    return timedelta(seconds=statistics.median(waits)), True


def queue_status(
    session: Session, *, conversation_id: str, now: datetime, default_wait: timedelta = DEFAULT_WAIT
) -> QueueStatus:
    entries = queue(session)
    position = next((i for i, e in enumerate(entries, 1) if e.conversation_id == conversation_id), None)
    wait, from_history = typical_wait(session, now=now, default=default_wait)
    return QueueStatus(position=position, waiting=len(entries), typical_wait=wait, from_history=from_history)
