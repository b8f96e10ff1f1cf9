"""Building blocks for the insights aggregates that must read the same on SQLite and PostgreSQL.

Grouping by day in the shop's time zone is not portable SQL (SQLite has no
time zones), so the database groups by UTC hour, which both spell cheaply,
and Python moves each hour to the shop's local day and hour. Zones with
half-hour offsets land a bucket on the hour before; nothing here is that fine.
Percentiles are taken in Python over the (already filtered) durations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select
from sqlalchemy.orm import Session

from crm.models import Conversation, Handoff
from sqlalchemy.sql.elements import KeyedColumnElement


@dataclass(frozen=True)
class Window:
    """A range of whole local days, [start, end] inclusive, in the shop's time zone."""

    start: date
    end: date
    tz: tzinfo

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(0), tzinfo=self.tz).astimezone(timezone.utc)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(
            timezone.utc
        )

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def previous(self) -> Window:
        """The window of the same length just before this one (for trends)."""
        length = (self.end - self.start).days + 1
        return Window(self.start - timedelta(days=length), self.start - timedelta(days=1), self.tz)


@dataclass(frozen=True)
class Scope:
    window: Window
    channel: str | None = None
    staff_id: int | None = None  # only this staff member's conversations


def scoped(query: Select[Any], scope: Scope, conversation_id: Any, channel: Any = None) -> Select[Any]:
    """Limit a query to the scope's channel and staff member.

    `channel` is the column holding the conversation's channel (default: the
    joined conversation's; messages carry their conversation's channel, so
    counting them needs no join).
    """
    if scope.channel:
        query = query.where((Conversation.channel if channel is None else channel) == scope.channel)
    if scope.staff_id is not None:
        theirs = select(Handoff.conversation_id).where(
            or_(Handoff.assigned_to_id == scope.staff_id, Handoff.resolved_by_id == scope.staff_id)
        )
        query = query.where(conversation_id.in_(theirs))
    return query


def utc_hour(session: Session, column: KeyedColumnElement[datetime]) -> ColumnElement[str]:
    """'YYYY-MM-DD HH' of a timestamp in UTC, as text."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC.
        return func.substr(column, 1, 13)
    if dialect == "postgresql":
        return func.to_char(column.op("AT TIME ZONE")(literal_column("'UTC'")), "YYYY-MM-DD HH24")
    raise NotImplementedError(f"unsupported database {dialect!r}")  # pragma: no cover


def local_hour(bucket: str, tz: tzinfo) -> datetime:
    """A UTC hour bucket from `utc_hour` as an aware local datetime."""
    # Slicing, not strptime: a year of hours times channels is thousands of buckets.
    year, month, day, hour = int(bucket[0:4]), int(bucket[5:7]), int(bucket[8:10]), int(bucket[11:13])
    utc = datetime(year, month, day, hour, tzinfo=timezone.utc)
    return utc.astimezone(tz)


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (what a person counting the list would say); None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
