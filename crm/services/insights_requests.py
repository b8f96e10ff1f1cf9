"""The insights page's view of what customers ask for: top requests, their trend, and the
requests whose conversations most often end with a person or a low rating.

Counted from the intent the assistant read in each customer message. Messages
carry their conversation's channel, so no join to conversations is needed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import case, func, or_, select
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


def risky_requests(session: Session, *, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """Requests whose conversations most often ended with a person or a low rating."""
    w = scope.window
    pairs = (
        select(Message.intent.label("intent"), Message.conversation_id.label("cid"))
        .where(
            Message.sender == Sender.customer,
            Message.intent.is_not(None),
            Message.intent.not_in(sorted(NOT_REQUESTS - {FALLBACK_INTENT})),
            Message.created_at >= w.since,
            Message.created_at < w.until,
        )
        .distinct()
    )
    pairs = _scoped(pairs, scope, Message.conversation_id, Message.channel).subquery()
    # IN over the whole (small) tables, not EXISTS: SQLite would re-run a
    # correlated subquery for every pair of a derived table.
    handed = pairs.c.cid.in_(select(Handoff.conversation_id))
    low = pairs.c.cid.in_(
        select(Feedback.conversation_id).where(Feedback.kind == "csat", Feedback.score <= LOW_RATING)
    )
    query = select(
        pairs.c.intent,
        func.count(),
        func.sum(case((handed, 1), else_=0)),
        func.sum(case((low, 1), else_=0)),
        func.sum(case((or_(handed, low), 1), else_=0)),
    ).group_by(pairs.c.intent)
    rows = []
    for intent, n, handoffs, lows, either in session.execute(query):
        if either:
            rows.append(
                {"intent": intent, "conversations": n, "handoffs": int(handoffs or 0),
                 "low_ratings": int(lows or 0), "share": int(either) / n}
            )  # fmt: skip
    rows.sort(key=lambda r: (-r["share"], -r["conversations"], r["intent"]))
    return rows[:limit]
