"""Customer requests settled by hand in the staff task list, or by the platform's
own order update, reach the customer on their channel (here: the widget)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.identity import hash_session_token
from crm.models import (
    Conversation,
    Order,
    OrderStatus,
    OutboxMessage,
    ShopRequest,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.services.shop_requests import create_request
from tests.bot.staff_support import StaffClient, create_staff, staff_email
from tests.factories import make_customer, make_order
from tests.fakes.gateway import Gateway
from tests.fakes.widget import WidgetClient
from tests.shop_fixtures import fixture_bytes

pytestmark = pytest.mark.asyncio
SHOPIFY_SECRET = "shpss_test_secret"


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway(
        staff_session_secret="staff-session-secret-for-tests-0123", shopify_webhook_secret=SHOPIFY_SECRET
    )


@pytest_asyncio.fixture
async def staff(gateway: Gateway, db: sessionmaker[Session]) -> AsyncIterator[StaffClient]:
    client = StaffClient(gateway.url)
    await client.sign_in(staff_email(db, create_staff(db, name="Sam Carter")))
    yield client
    await client.aclose()


async def _open_widget(tab: WidgetClient) -> str:
    session = await tab.recv()
    assert session["type"] == "session"
    assert (await tab.recv())["type"] == "history"
    return session["session"]


def _request_for(db: sessionmaker[Session], token: str, kind: ShopRequestKind, *, platform_id: str | None = None,
                 **detail: str) -> str:
    with db() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.address == hash_session_token(token))
        ).one()
        customer = make_customer(session, first_name="Vera")
        order = make_order(session, customer=customer, number="1044", status=OrderStatus.paid)
        order.platform_id = platform_id
        reference = create_request(
            session, order=order, kind=kind, actor="customer:test", conversation_id=conversation.id, detail=detail
        ).reference
        session.commit()
        return reference


async def _shop_says(tab: WidgetClient) -> dict[str, Any]:
    frame, _ = await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system", timeout=5)
    return frame


async def test_refused_by_staff_with_a_reason_the_customer_reads(
    gateway: Gateway, staff: StaffClient, db: sessionmaker[Session]
) -> None:
    async with gateway.connect() as tab:
        token = await _open_widget(tab)
        reference = _request_for(db, token, ShopRequestKind.cancel)
        page = await staff.get("/staff/requests")
        assert reference in page.text and "Cancel the order" in page.text
        no_reason = await staff.post(f"/staff/requests/{reference}/refuse", {"reason": " "})
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["error"]
        refused = await staff.post(f"/staff/requests/{reference}/refuse", {"reason": "it is already packed"})
        assert refused.json() == {"reference": reference, "status": "refused"}
        told = await _shop_says(tab)
        assert told["text"] == (
            "Sorry: the team couldn't cancel order #1044. Their reason: it is already packed"
        )
        again = await staff.post(f"/staff/requests/{reference}/accept")
        assert again.status_code == 409
    with db() as session:
        request = session.scalars(select(ShopRequest)).one()
        assert request.status == ShopRequestStatus.refused and (request.settled_by or "").startswith("staff:")
        assert request.order.status == OrderStatus.paid


async def test_accepted_by_staff(gateway: Gateway, staff: StaffClient, db: sessionmaker[Session]) -> None:
    async with gateway.connect() as tab:
        token = await _open_widget(tab)
        reference = _request_for(db, token, ShopRequestKind.change_address, address="12 Mill Lane, Bristol BS1 4AB")
        page = html.unescape((await staff.get("/staff/requests")).text)
        assert "New address: 12 Mill Lane, Bristol BS1 4AB" in page
        assert (await staff.post(f"/staff/requests/{reference}/accept")).json()["status"] == "accepted"
        told = await _shop_says(tab)
        assert told["text"] == "Good news: order #1044 will now go to the new address."
    with db() as session:
        assert session.scalars(select(Order.shipping_address)).one() == "12 Mill Lane, Bristol BS1 4AB"


async def test_the_platforms_cancellation_settles_the_request_by_itself(
    gateway: Gateway, db: sessionmaker[Session]
) -> None:
    body = fixture_bytes("shopify_orders_cancelled")
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    async with gateway.connect() as tab:
        token = await _open_widget(tab)
        _request_for(db, token, ShopRequestKind.cancel, platform_id="shopify:820982911946154508")
        async with httpx.AsyncClient() as http:
            response = await http.post(
                gateway.url + "/webhooks/shopify",
                content=body,
                headers={"X-Shopify-Topic": "orders/cancelled", "X-Shopify-Hmac-Sha256": signature,
                         "X-Shopify-Event-Id": "cancel-1"},
            )
        assert response.json() == {"outcome": "applied"}
        told = await _shop_says(tab)
        assert told["text"].startswith("Good news: the team has cancelled order #1044.")
    with db() as session:
        request = session.scalars(select(ShopRequest)).one()
        assert (request.status, request.settled_by) == (ShopRequestStatus.accepted, "platform:shopify")


async def test_dead_letters_are_listed_and_sent_again(
    gateway: Gateway, staff: StaffClient, db: sessionmaker[Session]
) -> None:
    async with gateway.connect() as tab:
        token = await _open_widget(tab)
        reference = _request_for(db, token, ShopRequestKind.cancel)
    with db() as session:
        message = session.scalars(select(OutboxMessage)).one()
        message.status, message.attempts, message.last_error = "dead", 8, "HTTP 500"
        session.commit()
        message_id = message.id
    page = await staff.get("/staff/requests")
    assert re.search(rf"{reference}</td>\s*<td>request.created</td>\s*<td>8</td>\s*<td>HTTP 500", page.text)
    assert (await staff.post(f"/staff/outbox/{message_id}/retry")).json() == {"id": message_id, "status": "pending"}
    assert (await staff.post(f"/staff/outbox/{message_id}/retry")).status_code == 404
    with db() as session:
        assert session.get(OutboxMessage, message_id).status == "pending"  # type: ignore[union-attr]


async def test_the_task_list_needs_a_signed_in_staff_member(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        assert (await http.get("/staff/requests")).status_code == 303
        assert (await http.post("/staff/requests/Q-X/accept")).status_code == 401


async def test_undelivered_order_notices_are_listed_and_sent_again(
    gateway: Gateway, staff: StaffClient, db: sessionmaker[Session]
) -> None:
    from crm.models import Notice, NoticeStatus, OrderStatus
    from crm.services import notices

    with db() as session:
        customer = make_customer(session, external_id="DN1")
        order = make_order(session, customer=customer, number="9301", status=OrderStatus.shipped)
        notice = notices.enqueue(session, order=order, kind="shipped")
        assert notice is not None
        notice.status, notice.attempts, notice.reason = NoticeStatus.dead, 6, "HTTP 502"
        session.commit()
        notice_id = notice.id
    page = html.unescape((await staff.get("/staff/requests")).text)
    assert re.search(r"shipped</td>\s*<td>#9301</td>\s*<td>DN1</td>\s*<td>6</td>\s*<td>HTTP 502", page)
    assert (await staff.post(f"/staff/notices/{notice_id}/retry")).json() == {"id": notice_id, "status": "pending"}
    assert (await staff.post(f"/staff/notices/{notice_id}/retry")).status_code == 404
    with db() as session:
        assert session.get(Notice, notice_id).status == NoticeStatus.pending  # type: ignore[union-attr]
