"""What the owner learns from the conversations: the figures of the staff insights page.

Every figure is one aggregate query over a date window (whole days in the
shop's time zone), optionally one channel, and optionally one staff member's
conversations (an agent sees only conversations they were assigned to or
resolved). Each function returns plain data; `insights` gathers them all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import Conversation, Feedback, Handoff, StaffUser
from crm.services.insights_requests import FALLBACK_INTENT, NOT_REQUESTS, requests, risky_requests
from crm.services.insights_sql import Scope, Window, local_hour, percentile, ratio, utc_hour
from crm.services.insights_sql import scoped as _scoped

REASON_LABELS = {
    "request_human": "Asked for a person",
    "complaint": "Complaint",
    "verification_failed": "Failed verification",
    "fallback": "Bot did not understand (low confidence)",
    "low_rating": "Low rating",
}


@dataclass(frozen=True)
class Durations:
    count: int
    median: float | None  # seconds
    p90: float | None


@dataclass
class Insights:
    scope: Scope
    channels: list[str]
    per_day: list[dict[str, Any]]  # {"day": date, "total": n, <channel>: n}
    conversations: int
    contained: int
    handed_off: int
    reasons: list[tuple[str, str, int]]  # (reason, label, handoffs)
    wait: Durations
    handling: Durations
    by_hour: list[dict[str, Any]]  # {"hour": 0-23, "handoffs", "wait_median", "wait_p90"}
    outside_hours: int
    csat: dict[str, dict[str, Any]]  # "all" / "bot" / "person" -> {"count", "satisfied", "average"}
    csat_by_staff: list[dict[str, Any]]
    nps: dict[str, Any]
    nps_comments: list[dict[str, Any]]
    requests: list[dict[str, Any]]  # {"intent", "count", "previous", "change"}
    customer_messages: int
    understood_messages: int
    fallbacks: int
    risky: list[dict[str, Any]]  # {"intent", "conversations", "handoffs", "low_ratings", "share"}
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def containment(self) -> float | None:
        return ratio(self.contained, self.conversations)

    @property
    def handoff_rate(self) -> float | None:
        return ratio(self.handed_off, self.conversations)

    @property
    def fallback_rate(self) -> float | None:
        return ratio(self.fallbacks, self.understood_messages)


def conversations_per_day(session: Session, *, scope: Scope) -> tuple[list[str], list[dict[str, Any]]]:
    w = scope.window
    bucket = utc_hour(session, Conversation.created_at)
    query = (
        select(bucket, Conversation.channel, func.count())
        .where(Conversation.created_at >= w.since, Conversation.created_at < w.until)
        .group_by(bucket, Conversation.channel)
    )
    rows = session.execute(_scoped(query, scope, Conversation.id)).all()
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    channels: set[str] = set()
    for hour, channel, n in rows:
        counts[local_hour(hour, w.tz).date()][channel] += n
        channels.add(channel)
    ordered = sorted(channels)
    days = []
    for day in w.days:
        row: dict[str, Any] = {"day": day, "total": sum(counts[day].values())}
        row.update({c: counts[day][c] for c in ordered})
        days.append(row)
    return ordered, days


def handoff_summary(session: Session, *, scope: Scope) -> tuple[int, int, list[tuple[str, str, int]]]:
    """For conversations begun in the window: how many, how many went to a person, handoffs by reason."""
    w = scope.window
    handed = exists().where(Handoff.conversation_id == Conversation.id)
    query = select(func.count(), func.sum(case((handed, 1), else_=0))).where(
        Conversation.created_at >= w.since, Conversation.created_at < w.until
    )
    total, with_person = session.execute(_scoped(query, scope, Conversation.id)).one()
    reasons_q = (
        select(Handoff.reason, func.count())
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Conversation.created_at >= w.since, Conversation.created_at < w.until)
        .group_by(Handoff.reason)
    )
    reasons = sorted(
        ((r, REASON_LABELS.get(r, r.replace("_", " ").capitalize()), n)
         for r, n in session.execute(_scoped(reasons_q, scope, Conversation.id)).all()),
        key=lambda t: (-t[2], t[0]),
    )
    return total or 0, int(with_person or 0), reasons


def waits(
    session: Session, *, scope: Scope, is_open: Callable[[datetime], bool] | None
) -> tuple[Durations, Durations, list[dict[str, Any]], int]:
    """Wait (queued to taken) and handling (taken to resolved) for handoffs made in the window."""
    w = scope.window
    query = (
        select(Handoff.created_at, Handoff.assigned_at, Handoff.resolved_at)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .where(Handoff.created_at >= w.since, Handoff.created_at < w.until)
    )
    wait_all: list[float] = []
    handle_all: list[float] = []
    per_hour: dict[int, list[float]] = defaultdict(list)
    made_per_hour: Counter[int] = Counter()
    outside = 0
    for created, assigned, resolved in session.execute(_scoped(query, scope, Conversation.id)):
        created = as_utc(created)
        local = created.astimezone(w.tz)
        made_per_hour[local.hour] += 1
        if is_open is not None and not is_open(created):
            outside += 1
        if assigned is not None:
            seconds = (as_utc(assigned) - created).total_seconds()
            wait_all.append(seconds)
            per_hour[local.hour].append(seconds)
            if resolved is not None:
                handle_all.append((as_utc(resolved) - as_utc(assigned)).total_seconds())
    wait_all.sort()
    handle_all.sort()
    by_hour = []
    for hour in range(24):
        values = sorted(per_hour[hour])
        by_hour.append(
            {
                "hour": hour,
                "handoffs": made_per_hour[hour],
                "wait_median": percentile(values, 0.5),
                "wait_p90": percentile(values, 0.9),
            }
        )
    return (
        Durations(len(wait_all), percentile(wait_all, 0.5), percentile(wait_all, 0.9)),
        Durations(len(handle_all), percentile(handle_all, 0.5), percentile(handle_all, 0.9)),
        by_hour,
        outside,
    )


def _feedback_query(scope: Scope, *columns: Any, kind: str) -> Select[Any]:
    w = scope.window
    query = (
        select(*columns)
        .join(Conversation, Conversation.id == Feedback.conversation_id)
        .where(Feedback.kind == kind, Feedback.created_at >= w.since, Feedback.created_at < w.until)
    )
    return _scoped(query, scope, Conversation.id)


def csat(session: Session, *, scope: Scope) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """CSAT overall, bot-only vs with a person (a handoff in the conversation), and per staff member."""
    with_person = or_(
        Feedback.staff_user_id.is_not(None),
        exists().where(Handoff.conversation_id == Feedback.conversation_id),
    )
    who = case((with_person, "person"), else_="bot")
    rows = session.execute(
        _feedback_query(
            scope, who, func.count(), func.sum(case((Feedback.score >= 4, 1), else_=0)),
            func.sum(Feedback.score), kind="csat",
        ).group_by(who)
    ).all()
    split = {key: {"count": 0, "satisfied": None, "average": None} for key in ("all", "bot", "person")}
    totals = [0, 0, 0]
    for key, n, good, score_sum in rows:
        split[key] = {"count": n, "satisfied": ratio(int(good or 0), n), "average": (score_sum or 0) / n}
        totals = [totals[0] + n, totals[1] + int(good or 0), totals[2] + int(score_sum or 0)]
    if totals[0]:
        n, good, score_sum = totals
        split["all"] = {"count": n, "satisfied": good / n, "average": score_sum / n}
    staff_rows = session.execute(
        _feedback_query(
            scope, StaffUser.name, func.count(), func.sum(case((Feedback.score >= 4, 1), else_=0)),
            func.avg(Feedback.score), kind="csat",
        )
        .join(StaffUser, StaffUser.id == Feedback.staff_user_id)
        .group_by(StaffUser.id, StaffUser.name)
        .order_by(StaffUser.name)
    ).all()
    per_staff = [
        {"name": name, "count": n, "satisfied": ratio(int(good or 0), n), "average": float(avg)}
        for name, n, good, avg in staff_rows
    ]
    return split, per_staff


def nps(session: Session, *, scope: Scope, comments: int = 20) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    promoter = func.sum(case((Feedback.score >= 9, 1), else_=0))
    detractor = func.sum(case((Feedback.score <= 6, 1), else_=0))
    n, promoters, detractors = session.execute(
        _feedback_query(scope, func.count(), promoter, detractor, kind="nps")
    ).one()
    promoters, detractors = int(promoters or 0), int(detractors or 0)
    summary = {
        "count": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "score": round(100 * (promoters - detractors) / n) if n else None,
    }
    latest = session.execute(
        _feedback_query(
            scope, Feedback.created_at, Feedback.score, Feedback.comment, Conversation.channel, kind="nps"
        )
        .where(Feedback.comment.is_not(None))
        .order_by(Feedback.created_at.desc())
        .limit(comments)
    ).all()
    return summary, [
        {"at": as_utc(at), "score": score, "comment": comment, "channel": channel}
        for at, score, comment, channel in latest
    ]


def insights(
    session: Session, *, scope: Scope, is_open: Callable[[datetime], bool] | None = None
) -> Insights:
    channels, per_day = conversations_per_day(session, scope=scope)
    total, with_person, reasons = handoff_summary(session, scope=scope)
    wait, handling, by_hour, outside = waits(session, scope=scope, is_open=is_open)
    split, per_staff = csat(session, scope=scope)
    nps_summary, comments = nps(session, scope=scope)
    top, messages, read, fallbacks = requests(session, scope=scope)
    return Insights(
        scope=scope,
        channels=channels,
        per_day=per_day,
        conversations=total,
        contained=total - with_person,
        handed_off=with_person,
        reasons=reasons,
        wait=wait,
        handling=handling,
        by_hour=by_hour,
        outside_hours=outside,
        csat=split,
        csat_by_staff=per_staff,
        nps=nps_summary,
        nps_comments=comments,
        requests=top,
        customer_messages=messages,
        understood_messages=read,
        fallbacks=fallbacks,
        risky=risky_requests(session, scope=scope),
    )


__all__ = ["FALLBACK_INTENT", "NOT_REQUESTS", "Durations", "Insights", "Scope", "Window", "insights"]
