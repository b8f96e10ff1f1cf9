"""crm.services.insights_requests: what customers ask for, its trend, and the requests that end badly.

A window of two days in Tokyo (2-3 November); the two days before are the previous period.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from crm.services.insights_requests import requests, risky_requests
from crm.services.insights_sql import Scope, Window
from tests.crm.services.insights_support import conv, said, utc
from tests.factories import make_feedback, make_handoff

SCOPE = Scope(Window(date(2026, 11, 2), date(2026, 11, 3), ZoneInfo("Asia/Tokyo")))


def test_top_requests_leave_out_small_talk_and_compare_with_the_period_before(session: Session) -> None:
    before = conv(session, "before", "web", utc(1, 0))
    said(session, before, utc(1, 0), "track_order")  # 09:00 on 1 Nov in Tokyo: the period before
    web = conv(session, "w", "web", utc(2, 0))
    for intent in ("greet", "track_order", "track_order", "request_refund", "nlu_fallback", None):
        said(session, web, utc(2, 1), intent)
    sms = conv(session, "s", "sms", utc(3, 14))
    said(session, sms, utc(3, 14, 59), "track_order")  # 23:59 on 3 Nov: inside
    said(session, sms, utc(3, 15), "track_order")  # 00:00 on 4 Nov: after the window

    rows, total, read, fallbacks = requests(session, scope=SCOPE)
    assert (total, read, fallbacks) == (7, 6, 1)
    assert rows == [
        {"intent": "track_order", "count": 3, "previous": 1, "change": 2.0},
        {"intent": "request_refund", "count": 1, "previous": 0, "change": None},
    ]
    sms_rows, sms_total, _, _ = requests(session, scope=Scope(SCOPE.window, channel="sms"))
    assert (sms_rows[0]["intent"], sms_rows[0]["count"], sms_total) == ("track_order", 1, 1)
    assert [r["intent"] for r in requests(session, scope=SCOPE, limit=1)[0]] == ["track_order"]


def test_risky_requests_are_those_whose_conversations_end_with_a_person_or_a_low_rating(session: Session) -> None:
    conversations = {cid: conv(session, cid, "web", utc(2, 1)) for cid in ("a", "b", "c", "d")}
    for cid, intent in [("a", "request_refund"), ("b", "request_refund"), ("c", "track_order"),
                        ("d", "track_order"), ("d", "greet"), ("c", "nlu_fallback")]:
        said(session, conversations[cid], utc(2, 2), intent)
    make_handoff(session, conversation=conversations["a"])
    make_feedback(session, conversation_id="b", score=2)  # low
    make_feedback(session, conversation_id="c", score=4)  # not low
    make_feedback(session, conversation_id="d", score=1)  # low

    rows = risky_requests(session, scope=SCOPE)
    assert rows == [
        {"intent": "request_refund", "conversations": 2, "handoffs": 1, "low_ratings": 1, "share": 1.0},
        {"intent": "track_order", "conversations": 2, "handoffs": 0, "low_ratings": 1, "share": 0.5},
    ]  # greet is small talk; the fallback's conversation (c) ended well
