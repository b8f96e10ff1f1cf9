"""The outbox of signed webhooks to the shop: claiming, retrying with back-off, dead letters.

Rows are claimed by moving their next attempt into the future in one UPDATE
that only succeeds while the row is still due, so two workers never send the
same message at the same time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import OutboxMessage
from crm.services.audit import audit

# While a worker holds a message it is not due for anyone else.
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int, *, first: timedelta = FIRST_RETRY) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: 8 attempts span about two hours."""
    return min(first * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def claim_due(session: Session, *, now: datetime | None = None, limit: int = 10) -> list[OutboxMessage]:
    """The due messages this caller now holds; commit before sending them."""
    moment = as_utc(now or utcnow())
    candidates = session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= moment)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    claimed = []
    for message_id in candidates:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= moment,
            )
            .values(next_attempt_at=moment + LEASE)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(message_id)
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)))


def mark_sent(session: Session, *, message: OutboxMessage, now: datetime | None = None) -> None:
    message.status = "sent"
    message.attempts += 1
    message.sent_at = now or utcnow()
    message.last_error = None


def mark_failed(
    session: Session,
    *,
    message: OutboxMessage,
    error: str,
    max_attempts: int,
    now: datetime | None = None,
    first_retry: timedelta = FIRST_RETRY,
) -> None:
    message.attempts += 1
    message.last_error = error[:300]
    if message.attempts >= max_attempts:
        message.status = "dead"
        audit(session, actor="system:worker", action="outbox.dead", subject=f"outbox:{message.id}")
    else:
        message.next_attempt_at = as_utc(now or utcnow()) + backoff(message.attempts, first=first_retry)


def dead_letters(session: Session, *, limit: int = 50) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == "dead").order_by(OutboxMessage.id.desc()).limit(limit)
        )
    )


def retry(session: Session, *, message_id: int, actor: str) -> OutboxMessage | None:
    """Put a dead letter back in the queue, due now, with a fresh count of attempts."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "dead":
        return None
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    audit(session, actor=actor, action="outbox.retry", subject=f"outbox:{message.id}")
    return message


def purge_sent(session: Session, *, now: datetime | None = None, keep: timedelta = timedelta(days=30)) -> int:
    """Delivered messages older than `keep`; dead letters stay until staff act on them."""
    cutoff = as_utc(now or utcnow()) - keep
    result = session.execute(delete(OutboxMessage).where(OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
