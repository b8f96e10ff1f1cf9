"""crm.clock: every time the CRM compares is aware UTC, whatever the database handed back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from crm.clock import as_utc, utcnow


def test_a_naive_time_from_sqlite_is_read_as_utc() -> None:
    assert as_utc(datetime(2026, 7, 1, 9, 30)) == datetime(2026, 7, 1, 9, 30, tzinfo=timezone.utc)
    assert as_utc(datetime(2026, 7, 1, 9, 30)).tzinfo is timezone.utc


def test_an_aware_time_is_converted_to_utc() -> None:
    london_summer = datetime(2026, 7, 1, 10, 30, tzinfo=ZoneInfo("Europe/London"))
    converted = as_utc(london_summer)
    assert converted == datetime(2026, 7, 1, 9, 30, tzinfo=timezone.utc)
    assert converted.utcoffset() == timedelta(0) and converted.hour == 9


def test_now_is_aware_utc() -> None:
    now = utcnow()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(timezone.utc)) < timedelta(seconds=5)
