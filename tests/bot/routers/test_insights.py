"""/staff/insights over HTTP: who sees what, filters, charts with text alternatives, CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from crm.models import (
    Conversation, Customer, Feedback, Handoff, HandoffStatus, Message, Notice, NoticeStatus, Sender,
    StaffRole,
)  # fmt: skip
from tests.bot.staff_support import StaffClient, create_staff, staff_email
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio
NOV = "start=2026-11-01&end=2026-11-30"


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway(staff_session_secret="staff-session-secret-for-tests-0123")


@pytest_asyncio.fixture
async def people(gateway: Gateway, db: sessionmaker[Session]) -> AsyncIterator[dict[str, Any]]:
    admin_id = create_staff(db, name="Olive Owner", role=StaffRole.admin)
    agent_id = create_staff(db, name="Sam Carter", role=StaffRole.agent)
    clients = {"admin": StaffClient(gateway.url), "agent": StaffClient(gateway.url)}
    await clients["admin"].sign_in(staff_email(db, admin_id))
    await clients["agent"].sign_in(staff_email(db, agent_id))
    _seed(db, agent_id)
    yield {**clients, "agent_id": agent_id}
    for client in clients.values():
        await client.aclose()


def _seed(db: sessionmaker[Session], agent_id: int) -> None:
    at = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    with db() as session:
        for cid, channel in [("w1", "web"), ("w2", "web"), ("t1", "telegram")]:
            session.add(Conversation(id=cid, channel=channel, created_at=at, updated_at=at))
        session.flush()
        session.add(
            Handoff(
                conversation_id="t1", reason="complaint", status=HandoffStatus.resolved,
                created_at=at, assigned_at=at.replace(minute=5), resolved_at=at.replace(minute=20),
                assigned_to_id=agent_id, resolved_by_id=agent_id,
            )
        )  # fmt: skip
        session.add(Feedback(conversation_id="t1", kind="csat", score=5, staff_user_id=agent_id, created_at=at))
        session.add(Feedback(conversation_id="w1", kind="csat", score=2, created_at=at))
        session.add(
            Feedback(conversation_id="w2", kind="nps", score=3, comment="=HYPERLINK(\"x\")", created_at=at)
        )
        for cid, intent in [("w1", "track_order"), ("w2", "track_order"), ("w2", "nlu_fallback"), ("t1", "complaint")]:
            session.add(
                Message(conversation_id=cid, channel="web", sender=Sender.customer, text="x", intent=intent, created_at=at)
            )  # fmt: skip
        session.commit()


async def test_signed_out_goes_to_sign_in(gateway: Gateway) -> None:
    client = StaffClient(gateway.url)
    try:
        response = await client.get("/staff/insights")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/sign-in?next=/staff/insights")
        csv_response = await client.get("/staff/insights/csat.csv")
        assert csv_response.status_code == 303
    finally:
        await client.aclose()


async def test_admin_sees_the_whole_shop_with_charts_and_definitions(people: dict[str, Any]) -> None:
    page = await people["admin"].get(f"/staff/insights?{NOV}")
    assert page.status_code == 200
    html = page.text
    assert "The whole shop" in html
    assert '<strong>3</strong>' in html  # conversations
    assert "<strong>67%</strong>" in html  # contained: 2 of 3
    assert html.count('<svg class="chart"') == 4  # conversations, waits, requests, order notices
    assert '<title id="chart-conversations-t">Conversations per day</title>' in html
    assert "<desc id=\"chart-waits-d\">" in html
    assert html.count("What is this?") >= 10
    assert "Olive Owner" in html and "Sam Carter" in html  # per-staff CSAT row and header
    assert 'href="/staff/insights/csat_by_staff.csv?start=2026-11-01&amp;end=2026-11-30"' in html
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_an_agent_sees_only_their_own_conversations(people: dict[str, Any]) -> None:
    html = (await people["agent"].get(f"/staff/insights?{NOV}")).text
    assert "Only the conversations you took or resolved" in html
    assert "<strong>1</strong>" in html and "<strong>3</strong>" not in html
    rows = list(csv.reader(io.StringIO((await people["agent"].get(f"/staff/insights/requests.csv?{NOV}")).text)))
    assert rows == [["Request", "Messages", "Previous period", "Change (%)"], ["complaint", "1", "0", ""]]


async def test_channel_filter(people: dict[str, Any]) -> None:
    rows = list(
        csv.reader(io.StringIO((await people["admin"].get(f"/staff/insights/conversations.csv?{NOV}&channel=web")).text))
    )
    assert rows[0] == ["Day", "Website", "Total"]
    assert ["2026-11-10", "2", "2"] in rows
    assert len(rows) == 31


async def test_csv_exports_both_ways_and_defuse_formulas(people: dict[str, Any]) -> None:
    admin = people["admin"]
    response = await admin.get(f"/staff/insights/nps_comments.csv?{NOV}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="nps_comments_2026-11-01_2026-11-30.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[1][1:] == ["3", "web", "'=HYPERLINK(\"x\")"]
    same = await admin.get(f"/staff/insights?{NOV}&format=csv&table=csat")
    assert list(csv.reader(io.StringIO(same.text))) == [
        ["Conversations", "Ratings", "Satisfied (4–5) (%)", "Average (1–5)"],
        ["All", "2", "50.0", "3.50"],
        ["Bot only", "1", "0.0", "2.00"],
        ["With a person", "1", "100.0", "5.00"],
    ]
    missing = await admin.get(f"/staff/insights/nope.csv?{NOV}")
    assert missing.status_code == 404 and "csat_by_staff" in missing.text


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("start=yesterday", "The start date should look like 2026-11-30."),
        ("start=2026-11-30&end=2026-11-01", "The start date is after the end date."),
        ("start=2020-01-01&end=2026-11-01", "Pick at most 366 days at a time."),
        ("channel=fax", "There is no such channel"),
    ],
)
async def test_bad_filters_are_400_with_a_reason(people: dict[str, Any], query: str, sentence: str) -> None:
    response = await people["admin"].get(f"/staff/insights?{query}")
    assert response.status_code == 400
    assert sentence in response.text


async def test_an_empty_range_renders(people: dict[str, Any]) -> None:
    page = await people["admin"].get("/staff/insights?start=2025-01-01&end=2025-01-03")
    assert page.status_code == 200
    assert "Nothing in this period." in page.text
    assert "<strong>0</strong>" in page.text


async def test_the_improvement_loop_is_for_the_owner(people: dict[str, Any]) -> None:
    admin = (await people["admin"].get(f"/staff/insights?{NOV}")).text
    assert "Is the assistant getting better?" in admin and "No reviewed messages exported yet." in admin
    assert "can't do yet" in admin
    agent = (await people["agent"].get(f"/staff/insights?{NOV}")).text
    assert "Is the assistant getting better?" not in agent


def _seed_notices(db: sessionmaker[Session]) -> None:
    at = datetime(2026, 11, 12, 3, 0, tzinfo=UTC)
    with db() as session:
        customer = Customer(external_id="N1", first_name="Nia", last_name="Notice")
        session.add(customer)
        session.flush()
        for key, status, channel, reason, replied in [
            ("n1", NoticeStatus.sent, "web", None, at),
            ("n2", NoticeStatus.sent, "sms", None, None),
            ("n3", NoticeStatus.suppressed, None, "no_consent", None),
            ("n4", NoticeStatus.suppressed, None, "cap", None),
        ]:
            session.add(
                Notice(
                    dedupe_key=key, customer_id=customer.id, kind="shipped", status=status, channel=channel,
                    reason=reason, replied_at=replied, created_at=at, due_at=at, deferred=key == "n2",
                    sent_at=at if channel else None,
                )
            )  # fmt: skip
        session.commit()


async def test_order_notices_are_for_the_owner(people: dict[str, Any], db: sessionmaker[Session]) -> None:
    _seed_notices(db)
    admin = (await people["admin"].get(f"/staff/insights?{NOV}")).text
    assert "<h2>Order notices</h2>" in admin
    assert "2 of 4 order notices sent, 1 replied to." in admin
    assert '<title id="chart-notices-t">Order notices per day</title>' in admin
    assert 'href="/staff/insights/notices.csv?start=2026-11-01&amp;end=2026-11-30"' in admin
    agent_page = await people["agent"].get(f"/staff/insights?{NOV}")
    assert "Order notices" not in agent_page.text and "chart-notices" not in agent_page.text
    agent_csv = await people["agent"].get(f"/staff/insights/notices.csv?{NOV}")
    assert agent_csv.status_code == 404


async def test_order_notices_csv(people: dict[str, Any], db: sessionmaker[Session]) -> None:
    _seed_notices(db)
    response = await people["admin"].get(f"/staff/insights/notices.csv?{NOV}")
    assert response.status_code == 200
    assert 'filename="notices_2026-11-01_2026-11-30.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["Day", "Channel", "Notices", "Sent", "Deferred (quiet hours)", "Suppressed: no consent",
         "Suppressed: daily cap", "Suppressed: merged", "Suppressed: no channel", "Suppressed: other",
         "Failed", "Waiting", "Replied to"],
        ["2026-11-12", "SMS", "1", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0"],
        ["2026-11-12", "Website", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "1"],
        ["2026-11-12", "Not sent", "2", "0", "0", "1", "1", "0", "0", "0", "0", "0", "0"],
        ["Total", "", "4", "2", "1", "1", "1", "0", "0", "0", "0", "0", "1"],
    ]  # fmt: skip
    web_csv = await people["admin"].get(f"/staff/insights/notices.csv?{NOV}&channel=web")
    web = list(csv.reader(io.StringIO(web_csv.text)))
    assert web[1:] == [
        ["2026-11-12", "Website", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "1"],
        ["Total", "", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0", "1"],
    ]
