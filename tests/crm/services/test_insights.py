"""The insights aggregates against a small world whose figures are counted by hand.

The shop is in Tokyo (UTC+9): a conversation at 15:30 UTC on 1 November is
on 2 November for the shop, which is what the page must show.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from crm.models import HandoffStatus, Sender
from crm.services.insights import Scope, Window, insights
from tests.crm.services.insights_support import conv, said, utc
from tests.factories import make_feedback, make_handoff, make_message, make_staff_user

TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = Window(date(2026, 11, 2), date(2026, 11, 3), TOKYO)


def shop_open(moment: datetime) -> bool:
    local = moment.astimezone(TOKYO)
    return 9 <= local.hour < 18


@pytest.fixture
def world(session: Session) -> dict[str, int]:
    alice = make_staff_user(session, name="Alice")
    bob = make_staff_user(session, name="Bob")
    c0 = conv(session, "c0", "web", utc(1, 14))  # 23:00 on 1 Nov in Tokyo: the window before
    c1 = conv(session, "c1", "web", utc(1, 15, 30))  # 00:30 on 2 Nov in Tokyo
    c2 = conv(session, "c2", "sms", utc(2, 0, 59))  # 09:59 on 2 Nov
    c3 = conv(session, "c3", "web", utc(3, 14, 59))  # 23:59 on 3 Nov
    c4 = conv(session, "c4", "web", utc(3, 15))  # 00:00 on 4 Nov: after the window

    h2 = make_handoff(session, conversation=c2, reason="complaint", status=HandoffStatus.resolved)
    h2.created_at, h2.assigned_at, h2.resolved_at = utc(2, 1), utc(2, 1, 2), utc(2, 1, 12)
    h2.assigned_to_id = h2.resolved_by_id = alice.id
    h3 = make_handoff(session, conversation=c3, reason="request_human", status=HandoffStatus.assigned)
    h3.created_at, h3.assigned_at = utc(3, 14, 59, 30), utc(3, 15, 9, 30)
    h3.assigned_to_id = bob.id

    for cid, score, staff, at in [
        ("c1", 5, None, utc(2, 1)),
        ("c2", 2, alice.id, utc(2, 2)),
        ("c3", 4, bob.id, utc(3, 14, 59, 59)),
        ("c4", 1, None, utc(3, 16)),  # after the window
    ]:
        make_feedback(session, conversation_id=cid, score=score, staff_user_id=staff).created_at = at
    for cid, score, comment, at in [
        ("c1", 10, "Lovely", utc(2, 1, 1)),
        ("c2", 8, None, utc(2, 2, 1)),
        ("c3", 3, "slow", utc(3, 14, 59, 59)),
    ]:
        make_feedback(session, conversation_id=cid, score=score, kind="nps", comment=comment).created_at = at

    said(session, c0, utc(1, 14, 1), "track_order")
    said(session, c1, utc(1, 15, 31), "track_order")
    said(session, c1, utc(1, 15, 32), "nlu_fallback", 0.2)
    said(session, c1, utc(1, 15, 33), "greet")
    said(session, c2, utc(2, 1), "complaint")
    said(session, c3, utc(3, 14, 59, 1), "track_order")
    said(session, c3, utc(3, 14, 59, 2), "return_policy")
    said(session, c3, utc(3, 14, 59, 3), None)  # stored while the bot was away
    bot = make_message(session, conversation=c3, sender=Sender.bot, text="reply")
    bot.created_at, bot.intent = utc(3, 14, 59, 4), "should_not_count"
    session.flush()
    return {"alice": alice.id, "bob": bob.id}


def test_everything_for_the_whole_shop(session: Session, world: dict[str, int]) -> None:
    got = insights(session, scope=Scope(WINDOW), is_open=shop_open)

    assert got.channels == ["sms", "web"]
    assert got.per_day == [
        {"day": date(2026, 11, 2), "total": 2, "sms": 1, "web": 1},
        {"day": date(2026, 11, 3), "total": 1, "sms": 0, "web": 1},
    ]
    assert (got.conversations, got.contained, got.handed_off) == (3, 1, 2)
    assert got.containment == pytest.approx(1 / 3)
    assert [(r, n) for r, _, n in got.reasons] == [("complaint", 1), ("request_human", 1)]

    assert (got.wait.count, got.wait.median, got.wait.p90) == (2, 120, 600)
    assert (got.handling.count, got.handling.median, got.handling.p90) == (1, 600, 600)
    hours = {row["hour"]: row for row in got.by_hour if row["handoffs"]}
    assert hours == {
        10: {"hour": 10, "handoffs": 1, "wait_median": 120, "wait_p90": 120},
        23: {"hour": 23, "handoffs": 1, "wait_median": 600, "wait_p90": 600},
    }
    assert got.outside_hours == 1

    assert got.csat["all"] == {"count": 3, "satisfied": pytest.approx(2 / 3), "average": pytest.approx(11 / 3)}
    assert got.csat["bot"] == {"count": 1, "satisfied": 1.0, "average": 5.0}
    assert got.csat["person"] == {"count": 2, "satisfied": 0.5, "average": 3.0}
    assert got.csat_by_staff == [
        {"name": "Alice", "count": 1, "satisfied": 0.0, "average": 2.0},
        {"name": "Bob", "count": 1, "satisfied": 1.0, "average": 4.0},
    ]

    assert got.nps == {"count": 3, "promoters": 1, "passives": 1, "detractors": 1, "score": 0}
    assert [c["comment"] for c in got.nps_comments] == ["slow", "Lovely"]

    assert got.requests == [
        {"intent": "track_order", "count": 2, "previous": 1, "change": 1.0},
        {"intent": "complaint", "count": 1, "previous": 0, "change": None},
        {"intent": "return_policy", "count": 1, "previous": 0, "change": None},
    ]
    assert (got.customer_messages, got.understood_messages, got.fallbacks) == (7, 6, 1)
    assert got.fallback_rate == pytest.approx(1 / 6)
    assert got.risky == [
        {"intent": "complaint", "conversations": 1, "handoffs": 1, "low_ratings": 1, "share": 1.0},
        {"intent": "return_policy", "conversations": 1, "handoffs": 1, "low_ratings": 0, "share": 1.0},
        {"intent": "track_order", "conversations": 2, "handoffs": 1, "low_ratings": 0, "share": 0.5},
    ]


def test_an_agent_sees_only_their_conversations(session: Session, world: dict[str, int]) -> None:
    got = insights(session, scope=Scope(WINDOW, staff_id=world["alice"]))
    assert (got.conversations, got.handed_off) == (1, 1)
    assert got.csat["all"]["count"] == 1 and got.csat["all"]["average"] == 2.0
    assert [r["intent"] for r in got.requests] == ["complaint"]
    assert got.nps["count"] == 1


def test_one_channel(session: Session, world: dict[str, int]) -> None:
    got = insights(session, scope=Scope(WINDOW, channel="web"))
    assert got.channels == ["web"]
    assert got.conversations == 2 and got.handed_off == 1
    assert got.csat["all"]["count"] == 2


def test_the_same_data_read_in_utc_moves_the_days(session: Session, world: dict[str, int]) -> None:
    got = insights(session, scope=Scope(Window(date(2026, 11, 1), date(2026, 11, 3), timezone.utc)))
    assert [(row["day"].day, row["total"]) for row in got.per_day] == [(1, 2), (2, 1), (3, 2)]


def test_an_empty_range_has_no_figures_rather_than_zeros(session: Session, world: dict[str, int]) -> None:
    got = insights(session, scope=Scope(Window(date(2025, 1, 1), date(2025, 1, 7), TOKYO)), is_open=shop_open)
    assert got.conversations == 0 and got.containment is None and got.handoff_rate is None
    assert [row["total"] for row in got.per_day] == [0] * 7
    assert (got.wait.count, got.wait.median, got.wait.p90) == (0, None, None)
    assert got.csat["all"] == {"count": 0, "satisfied": None, "average": None}
    assert got.nps["score"] is None and got.fallback_rate is None
    assert got.requests == [] and got.risky == [] and got.outside_hours == 0


def test_window_edges_are_local_midnights() -> None:
    w = Window(date(2026, 3, 29), date(2026, 3, 29), ZoneInfo("Europe/London"))
    # The clocks go forward that night: the day is 23 hours long.
    assert w.since == datetime(2026, 3, 29, 0, tzinfo=timezone.utc)
    assert w.until - w.since == timedelta(hours=23)
    assert w.previous() == Window(date(2026, 3, 28), date(2026, 3, 28), w.tz)
