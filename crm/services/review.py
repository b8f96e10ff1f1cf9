"""How the assistant read each customer message, and the queue of messages it may have misread.

A message goes to the review queue when the assistant fell back ("didn't
get that"), was unsure (top intent below `review_confidence_threshold`), or
when it was the customer's last words before a handoff or a low rating.
Staff read it masked: e-mails, phone numbers, order numbers and references
never reach the queue or the training data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.db import expire_loaded
from crm.models import AuditEntry, Message, ReviewItem, Sender
from crm.services._sql import insert_if_absent

FALLBACK_INTENT = "nlu_fallback"
NEW_REQUEST = "new_request"
LOW_RATING = 2  # a CSAT of this or below sends the customer's last words to review
# Messages that say nothing about what the customer wanted: look one further back.
_NOT_THE_REQUEST = frozenset(
    {"request_human", "complaint", "thank", "goodbye", "affirm", "deny", "greet", "give_feedback"}
)
_LOOK_BACK = 4

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_REFERENCE = re.compile(r"\b[A-Z]{1,3}-[A-Z0-9]{4,}\b")
# A run of digits with the separators people type in phone numbers and order numbers.
_DIGITS = re.compile(r"(?<![\w])(\+|#)?\d[\d\s().-]*\d(?![\w])|#\d+")


def _digits(match: re.Match[str]) -> str:
    text = match.group(0)
    count = sum(ch.isdigit() for ch in text)
    if count >= 9 or text.startswith("+"):
        return "[phone]"
    if count >= 3 or text.startswith("#"):
        return "[order]"
    return text  # "2 pairs", "size 10": not personal


def mask(text: str) -> str:
    """The text with e-mail addresses, phone numbers, order numbers and references replaced."""
    text = _EMAIL.sub("[email]", text)
    text = _REFERENCE.sub("[reference]", text)
    return _DIGITS.sub(_digits, text)


def _guesses(ranking: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [{"intent": str(name), "confidence": float(conf)} for name, conf in ranking]


def _queue(session: Session, *, message: Message, reason: str, now: datetime) -> None:
    if (message.data or {}).get("payload") or not message.text.strip():
        return  # a button press is not the customer's words
    guesses = (message.data or {}).get("guesses") or []
    insert_if_absent(
        session,
        ReviewItem,
        {
            "message_id": message.id,
            "conversation_id": message.conversation_id,
            "reason": reason,
            "masked_text": mask(message.text)[:2000],
            "guesses": _guesses(guesses),
            "status": "open",
            "new_request": False,
            "created_at": now,
        },
        conflict=["message_id"],
    )


def record_reading(
    session: Session,
    *,
    message_id: int,
    intent: str,
    confidence: float,
    ranking: Sequence[Sequence[Any]],
    threshold: float,
) -> None:
    """Store how the assistant read a customer message; queue it for review if it was unsure."""
    # Column reads and UPDATEs, not the ORM row: every turn ends here, and loading the
    # message (and flushing it back) cost more than the rest of the turn's final write.
    row = session.execute(select(Message.sender, Message.data).where(Message.id == message_id)).first()
    if row is None or row.sender != Sender.customer:
        return
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(
            intent=intent[:60],
            intent_confidence=confidence,
            data={**(row.data or {}), "guesses": [[n, c] for n, c in ranking]},
        )
        .execution_options(synchronize_session=False)
    )
    expire_loaded(session, Message, message_id)
    item = session.execute(
        select(ReviewItem.id, ReviewItem.guesses).where(ReviewItem.message_id == message_id)
    ).first()
    if item is not None and not item.guesses:
        # Queued during the turn (a handoff) before the gateway knew the guesses.
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item.id)
            .values(guesses=_guesses(ranking))
            .execution_options(synchronize_session=False)
        )
        expire_loaded(session, ReviewItem, item.id)
    reason = "fallback" if intent == FALLBACK_INTENT else "low_confidence" if confidence < threshold else None
    if reason is not None:
        message = session.get(Message, message_id)
        assert message is not None
        _queue(session, message=message, reason=reason, now=utcnow())


def queue_last_words(session: Session, *, conversation_id: str, reason: str) -> None:
    """Queue what the customer last asked before a handoff or a low rating."""
    recent = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.sender == Sender.customer)
        .order_by(Message.id.desc())
        .limit(_LOOK_BACK)
    )
    for message in recent:
        if (message.data or {}).get("payload") or message.intent in _NOT_THE_REQUEST:
            continue
        _queue(session, message=message, reason=reason, now=utcnow())
        return


def open_items(session: Session, *, limit: int = 50) -> list[ReviewItem]:
    return list(
        session.scalars(
            select(ReviewItem).where(ReviewItem.status == "open").order_by(ReviewItem.id).limit(limit)
        )
    )


def open_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(ReviewItem.status == "open")) or 0


def review(
    session: Session, *, item_id: int, intent: str, staff_id: int, note: str | None = None
) -> ReviewItem | None:
    """Staff's answer: the intent meant, or NEW_REQUEST (with a note) for what the bot can't do yet."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        return None
    item.status = "reviewed"
    item.new_request = intent == NEW_REQUEST
    item.chosen_intent = None if item.new_request else intent[:60]
    item.note = (note or "").strip()[:500] or None
    item.reviewed_by_id = staff_id
    item.reviewed_at = utcnow()
    return item


def unmet_requests(session: Session, *, limit: int = 20) -> list[tuple[str, int]]:
    """What customers ask for that the bot cannot do yet: staff notes on "new kind of request", by count."""
    note = func.lower(func.trim(ReviewItem.note))
    rows = session.execute(
        select(note, func.count())
        .where(ReviewItem.new_request.is_(True), ReviewItem.note.is_not(None))
        .group_by(note)
        .order_by(func.count().desc(), note)
        .limit(limit)
    ).all()
    return [(text, n) for text, n in rows]


def reviewed_examples(session: Session) -> dict[str, list[str]]:
    """Reviewed messages by the intent staff chose: the new training examples (masked text)."""
    found: dict[str, list[str]] = {}
    for intent, text in session.execute(
        select(ReviewItem.chosen_intent, ReviewItem.masked_text)
        .where(ReviewItem.status == "reviewed", ReviewItem.chosen_intent.is_not(None))
        .order_by(ReviewItem.chosen_intent, ReviewItem.id)
    ):
        examples = found.setdefault(intent, [])
        if text not in examples:
            examples.append(text)
    return found


def _fallback_rate(session: Session, *, since: datetime, until: datetime) -> float | None:
    fallbacks, read = session.execute(
        select(
            func.sum(case((Message.intent == FALLBACK_INTENT, 1), else_=0)),
            func.count(Message.intent),
        ).where(
            Message.created_at >= since, Message.created_at < until, Message.sender == Sender.customer
        )
    ).one()
    return int(fallbacks or 0) / read if read else None


def fallback_before_after(
    session: Session, *, now: datetime, span: timedelta = timedelta(days=28)
) -> dict[str, Any] | None:
    """The fallback rate in the `span` before the last training export, and since; None before any."""
    at = session.scalar(
        select(AuditEntry.at)
        .where(AuditEntry.action == "training.export")
        .order_by(AuditEntry.at.desc())
        .limit(1)
    )
    if at is None:
        return None
    at = as_utc(at)
    return {
        "at": at,
        "before": _fallback_rate(session, since=at - span, until=at),
        "after": _fallback_rate(session, since=at, until=now),
    }
