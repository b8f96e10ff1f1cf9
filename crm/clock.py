"""Time helpers. Everything the CRM stores is UTC.

SQLite hands back naive datetimes even for `DateTime(timezone=True)` columns;
`as_utc` makes values from either database comparable with aware ones.
"""

from __future__ import annotations

from datetime import datetime, timezone

from crm.models import utcnow

__all__ = ["as_utc", "utcnow"]


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
