"""The order-notice aggregate against notices whose outcomes are counted by hand.

The shop is in Tokyo (UTC+9), as in test_insights: a notice made at 15:30 UTC
on 1 November belongs to 2 November for the shop.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from crm.models import Notice, NoticeStatus
from crm.services.insights_notices import COUNTS, notice_summary
from crm.services.insights_sql import Scope, Window
from tests.factories import make_customer

TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = Window(date(2026, 11, 2), date(2026, 11, 3), TOKYO)
_keys = count()


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


def zeros(**counts: int) -> dict[str, int]:
    return {**dict.fromkeys(COUNTS, 0), **counts}


@pytest.fixture
def world(session: Session) -> None:
    customer = make_customer(session)

    def notice(at: datetime, status: NoticeStatus, *, channel: str | None = None, reason: str | None = None,
               deferred: bool = False, replied: bool = False) -> None:  # fmt: skip
        session.add(
            Notice(
                dedupe_key=f"k{next(_keys)}", customer_id=customer.id, kind="shipped", status=status,
                created_at=at, due_at=at, channel=channel, reason=reason, deferred=deferred,
                sent_at=at if status == NoticeStatus.sent else None,
                replied_at=at if replied else None,
            )
        )  # fmt: skip

    notice(utc(1, 14), NoticeStatus.sent, channel="web")  # 23:00 on 1 Nov in Tokyo: before the window
    # 2 Nov in Tokyo
    notice(utc(1, 15, 30), NoticeStatus.sent, channel="web", deferred=True, replied=True)
    notice(utc(2, 1), NoticeStatus.sent, channel="web")
    notice(utc(2, 2), NoticeStatus.sent, channel="sms", replied=True)
    notice(utc(2, 3), NoticeStatus.suppressed, reason="no_consent")
    notice(utc(2, 3), NoticeStatus.suppressed, reason="no_consent")
    notice(utc(2, 4), NoticeStatus.suppressed, reason="merged")
    notice(utc(2, 5), NoticeStatus.dead, reason="HTTP 500")
    # 3 Nov in Tokyo
    notice(utc(3, 0), NoticeStatus.suppressed, reason="cap")
    notice(utc(3, 1), NoticeStatus.suppressed, reason="no_channel", deferred=True)
    notice(utc(3, 2), NoticeStatus.suppressed, reason="order_gone")
    notice(utc(3, 3), NoticeStatus.pending, deferred=True)
    notice(utc(3, 4), NoticeStatus.pending, reason="HTTP 502")  # failed once, will retry
    notice(utc(3, 14, 59), NoticeStatus.sent, channel="telegram")  # 23:59 on 3 Nov
    notice(utc(3, 15), NoticeStatus.sent, channel="web")  # 00:00 on 4 Nov: after the window
    session.flush()


def test_every_outcome_per_day_and_channel(session: Session, world: None) -> None:
    got = notice_summary(session, scope=Scope(WINDOW))

    assert got["rows"] == [
        {"day": date(2026, 11, 2), "channel": "sms", **zeros(notices=1, sent=1, replied=1)},
        {"day": date(2026, 11, 2), "channel": "web", **zeros(notices=2, sent=2, deferred=1, replied=1)},
        {"day": date(2026, 11, 2), "channel": None, **zeros(notices=4, no_consent=2, merged=1, dead=1)},
        {"day": date(2026, 11, 3), "channel": "telegram", **zeros(notices=1, sent=1)},
        {"day": date(2026, 11, 3), "channel": None,
         **zeros(notices=5, cap=1, no_channel=1, other=1, waiting=2, deferred=2)},
    ]  # fmt: skip
    assert got["totals"] == zeros(
        notices=13, sent=4, deferred=3, replied=2, no_consent=2, merged=1, cap=1, no_channel=1, other=1,
        dead=1, waiting=2,
    )


def test_a_channel_shows_only_the_notices_sent_on_it(session: Session, world: None) -> None:
    got = notice_summary(session, scope=Scope(WINDOW, channel="web"))

    assert got["rows"] == [
        {"day": date(2026, 11, 2), "channel": "web", **zeros(notices=2, sent=2, deferred=1, replied=1)},
    ]
    assert got["totals"] == zeros(notices=2, sent=2, deferred=1, replied=1)


def test_an_empty_range_is_all_zeros(session: Session, world: None) -> None:
    got = notice_summary(session, scope=Scope(Window(date(2026, 12, 1), date(2026, 12, 7), TOKYO)))

    assert got == {"rows": [], "totals": zeros()}
