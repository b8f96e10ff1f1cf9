"""actions.orders.words: dates as a person would write them, in the shop's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from actions.orders import on_day

pytestmark = pytest.mark.usefixtures("crm")


def test_dates_read_like_a_person_wrote_them() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # a Friday
    assert on_day(now - timedelta(hours=2), now=now) == "today"
    assert on_day(now - timedelta(days=1), now=now) == "yesterday"
    assert (
        on_day(datetime(2026, 11, 17, 10, 0, tzinfo=timezone.utc), now=now) == "on Tuesday 17 November"
    )
    assert (
        on_day(datetime(2025, 12, 30, 10, 0, tzinfo=timezone.utc), now=now)
        == "on Tuesday 30 December 2025"
    )


def test_dates_are_in_the_shops_time_zone() -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    now = datetime(2026, 7, 20, 12, 0, tzinfo=timezone.utc)
    assert on_day(datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc), now=now) == "on Wednesday 1 July"
