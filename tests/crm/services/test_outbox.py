"""crm.services.outbox: webhooks to the shop claimed once, retried with back-off, dead after the last try."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import AuditEntry, OutboxMessage
from crm.services import outbox

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def queued(session: Session, n: int, *, due: datetime = NOW, status: str = "pending") -> OutboxMessage:
    message = OutboxMessage(
        event_id=f"evt-{n}", topic="request.created", payload={"n": n}, status=status, next_attempt_at=due
    )
    session.add(message)
    session.flush()
    return message


def test_backoff_doubles_from_thirty_seconds_up_to_an_hour() -> None:
    assert [outbox.backoff(n).total_seconds() for n in range(0, 9)] == [30, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert outbox.backoff(30) == timedelta(hours=1)
    assert outbox.backoff(2, first=timedelta(seconds=1)) == timedelta(seconds=2)


def test_only_due_pending_messages_are_claimed_in_order_and_not_twice(session: Session) -> None:
    second, first = queued(session, 2), queued(session, 1, due=NOW - timedelta(minutes=5))
    queued(session, 3, due=NOW + timedelta(seconds=1))  # not yet
    queued(session, 4, status="sent")
    queued(session, 5, status="dead")
    claimed = outbox.claim_due(session, now=NOW)
    assert claimed == [second, first]  # by id
    assert {as_utc(m.next_attempt_at) for m in claimed} == {NOW + outbox.LEASE}
    assert outbox.claim_due(session, now=NOW) == []  # held by the first caller
    assert [m.event_id for m in outbox.claim_due(session, now=NOW + outbox.LEASE, limit=1)] == ["evt-2"]


def test_a_failure_waits_longer_each_time_and_the_last_one_is_a_dead_letter(session: Session) -> None:
    message = queued(session, 1)
    outbox.mark_failed(session, message=message, error="HTTP 500", max_attempts=3, now=NOW)
    assert (message.status, message.attempts) == ("pending", 1)
    assert as_utc(message.next_attempt_at) == NOW + timedelta(seconds=30)
    outbox.mark_failed(session, message=message, error="x" * 400, max_attempts=3, now=NOW)
    assert as_utc(message.next_attempt_at) == NOW + timedelta(minutes=1) and len(message.last_error or "") == 300
    outbox.mark_failed(session, message=message, error="timeout", max_attempts=3, now=NOW)
    assert (message.status, message.attempts, message.last_error) == ("dead", 3, "timeout")
    assert outbox.dead_letters(session) == [message]
    session.flush()
    assert session.scalars(select(AuditEntry.action)).all() == ["outbox.dead"]


def test_a_dead_letter_can_be_retried_by_staff_and_nothing_else_can(session: Session) -> None:
    dead, pending = queued(session, 1, status="dead"), queued(session, 2)
    dead.attempts = 8
    assert outbox.retry(session, message_id=pending.id, actor="staff:1") is None
    assert outbox.retry(session, message_id=dead.id + 100, actor="staff:1") is None
    assert outbox.retry(session, message_id=dead.id, actor="staff:1") is dead
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert outbox.dead_letters(session) == []
    session.flush()
    assert session.execute(select(AuditEntry.actor, AuditEntry.action)).all() == [("staff:1", "outbox.retry")]


def test_sent_messages_are_purged_after_thirty_days_and_dead_letters_stay(session: Session) -> None:
    old, recent = queued(session, 1), queued(session, 2)
    outbox.mark_sent(session, message=old, now=NOW - timedelta(days=31))
    outbox.mark_sent(session, message=recent, now=NOW - timedelta(days=29))
    queued(session, 3, status="dead")
    assert (old.status, old.attempts, old.last_error) == ("sent", 1, None)
    session.flush()
    assert outbox.purge_sent(session, now=NOW) == 1
    assert sorted(session.scalars(select(OutboxMessage.event_id))) == ["evt-2", "evt-3"]
