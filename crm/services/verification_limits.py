"""Failed in-chat verifications, counted where every gateway and restart sees them.

A failure is counted against the order number tried, the e-mail tried and the
client address the gateway vouched for (its metadata, never the customer's
words). Each is stored only as a keyed hash, so the table holds no e-mail or
order number, and erasure can find a customer's rows by hashing theirs again.
Reaching a limit pauses verification for that key until the window has moved
on; the customer is told for how long. A handoff to staff is also claimed per
customer (order) and per address and window, so a script failing on purpose
cannot fill the staff queue.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import VerificationFailure
from crm.settings import CRMSettings

_CONTEXT = "verification-limit/v1\x00"


def client_fingerprint(address: str) -> str:
    """What the gateway tells Rasa about where a message came from ("ip:…", "sms:+44…",
    "telegram:<chat>"): a hash, so no address or number reaches Rasa's tracker store."""
    return "c1:" + hashlib.sha256(f"client/v1\x00{address}".encode()).hexdigest()[:32]


def limit_key(kind: str, value: str) -> str:
    """The stored form of a key: a hash that names neither the value nor, alone, the customer."""
    return hashlib.sha256(f"{_CONTEXT}{kind}\x00{value.strip().lower()}".encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    order_number: str | None
    email: str | None
    client: str | None

    def limits(self, settings: CRMSettings) -> list[tuple[str, int]]:
        pairs = [
            ("order", self.order_number, settings.verification_max_failures_per_order),
            ("email", self.email, settings.verification_max_failures_per_email),
            ("client", self.client, settings.verification_max_failures_per_client),
        ]
        return [(limit_key(kind, value), limit) for kind, value, limit in pairs if value]


def _window(settings: CRMSettings) -> timedelta:
    return timedelta(minutes=settings.verification_window_minutes)


def locked_until(session: Session, *, attempt: Attempt, settings: CRMSettings, now: datetime) -> datetime | None:
    """When verification opens again for this attempt's keys; None if it is open now."""
    window = _window(settings)
    until: datetime | None = None
    for key, limit in attempt.limits(settings):
        times = session.scalars(
            select(VerificationFailure.at)
            .where(VerificationFailure.key == key, VerificationFailure.at > now - window)
            .order_by(VerificationFailure.at.desc())
            .limit(limit)
        ).all()
        if len(times) >= limit:
            # Open again once the limit-th newest failure has left the window.
            opens = as_utc(times[-1]) + window
            until = opens if until is None or opens > until else until
    return until


def record_failure(session: Session, *, attempt: Attempt, settings: CRMSettings, now: datetime) -> None:
    for key, _ in attempt.limits(settings):
        session.add(VerificationFailure(key=key, at=now))
    session.flush()


def claim_handoff(session: Session, *, subjects: Iterable[tuple[str, str]], settings: CRMSettings, now: datetime) -> bool:
    """True (and remembered) if none of `subjects` had a verification handoff in this window."""
    keys = [limit_key("handoff-" + kind, value) for kind, value in subjects if value]
    if not keys:
        return True
    recent = session.scalar(
        select(VerificationFailure.id)
        .where(VerificationFailure.key.in_(keys), VerificationFailure.at > now - _window(settings))
        .limit(1)
    )
    if recent is not None:
        return False
    for key in keys:
        session.add(VerificationFailure(key=key, at=now))
    session.flush()
    return True


def forget(session: Session, *, values: Iterable[tuple[str, str]]) -> int:
    """Erasure: drop every row counted against these (kind, value) pairs, handoff claims included."""
    keys: set[str] = set()
    for kind, value in values:
        if value:
            keys.update({limit_key(kind, value), limit_key("handoff-" + kind, value)})
    if not keys:
        return 0
    result = session.execute(delete(VerificationFailure).where(VerificationFailure.key.in_(keys)))
    return int(result.rowcount or 0)


def minutes_until(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((as_utc(until) - now).total_seconds() / 60))
