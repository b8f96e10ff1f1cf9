"""The insights page's view of what customers ask for: top requests, their trend, and the
requests whose conversations most often end with a person or a low rating.

Counted from the intent the assistant read in each customer message. Messages
carry their conversation's channel, so no join to conversations is needed.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Feedback, Handoff, Message, Sender
from crm.services.insights_sql import Scope, Window, ratio
from crm.services.insights_sql import scoped as _scoped

FALLBACK_INTENT = "nlu_fallback"
# Small talk and answers to the bot's own questions: not requests.
NOT_REQUESTS = frozenset(
    {"greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", FALLBACK_INTENT}
)
LOW_RATING = 2  # CSAT of this or below is a low rating


def _intent_counts(session: Session, *, scope: Scope, window: Window) -> tuple[Counter[str], int, int]:
    """Customer messages by intent in a window, and (all customer messages, ones the bot read)."""
    query = (
        select(Message.intent, func.count())
        .where(
            Message.created_at >= window.since,
            Message.created_at < window.until,
            Message.sender == Sender.customer,
        )
        .group_by(Message.intent)
    )
    counts: Counter[str] = Counter()
    total = read = 0
    for intent, n in session.execute(_scoped(query, scope, Message.conversation_id, Message.channel)):
        total += n
        if intent is not None:
            read += n
            counts[intent] += n
    return counts, total, read


def requests(
    session: Session, *, scope: Scope, limit: int = 15
) -> tuple[list[dict[str, Any]], int, int, int]:
    """Top requests with the previous period's counts; all customer messages, those read, fallbacks."""
    now, total, read = _intent_counts(session, scope=scope, window=scope.window)
    before, _, _ = _intent_counts(session, scope=scope, window=scope.window.previous())
    top = [(i, n) for i, n in now.most_common() if i not in NOT_REQUESTS][:limit]
    rows = [
        {"intent": i, "count": n, "previous": before[i], "change": ratio(n - before[i], before[i])}
        for i, n in top
    ]
    return rows, total, read, now[FALLBACK_INTENT]


# A handoff or rating belongs to the conversation's messages; one this much
# older than the window's first message cannot follow a request in it.
_LOOK_BEFORE = timedelta(days=1)


def risky_requests(session: Session, *, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """Requests whose conversations most often ended with a person or a low rating.

    Three index range scans and set arithmetic in Python: a join or a
    subquery per (request, conversation) pair is many times slower on SQLite.
    """
    w = scope.window
    pairs_q = (
        select(Message.intent, Message.conversation_id)
        .where(
            Message.created_at >= w.since,
            Message.created_at < w.until,
            Message.sender == Sender.customer,
            Message.intent.is_not(None),
        )
        .distinct()
    )
    pairs = [
        (intent, cid)
        for intent, cid in session.execute(_scoped(pairs_q, scope, Message.conversation_id, Message.channel))
        if intent == FALLBACK_INTENT or intent not in NOT_REQUESTS
    ]
    handed = set(
        session.scalars(select(Handoff.conversation_id).where(Handoff.created_at >= w.since - _LOOK_BEFORE))
    )
    low = set(
        session.scalars(
            select(Feedback.conversation_id).where(
                Feedback.kind == "csat",
                Feedback.score <= LOW_RATING,
                Feedback.created_at >= w.since - _LOOK_BEFORE,
            )
        )
    )
    counts: dict[str, list[int]] = {}
    for intent, cid in pairs:
        c = counts.setdefault(intent, [0, 0, 0, 0])
        c[0] += 1
        c[1] += cid in handed
        c[2] += cid in low
        c[3] += cid in handed or cid in low
    rows = [
        {"intent": intent, "conversations": n, "handoffs": h, "low_ratings": lo, "share": either / n}
        for intent, (n, h, lo, either) in counts.items()
        if either
    ]
    rows.sort(key=lambda r: (-r["share"], -r["conversations"], r["intent"]))
    return rows[:limit]
