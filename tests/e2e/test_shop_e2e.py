"""The shop connected, end to end on the real stack: a Shopify order and its
fulfilment arrive by webhook and a customer who verifies in the widget hears
the tracking number; a cancel request leaves for the shop's endpoint signed
and the customer hears the shop's answer, accepted by webhook or refused by
staff in the console's task list."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import select

from bot.supervisor import Stack
from crm.clock import utcnow
from crm.db import session_scope
from crm.models import Order, OrderStatus, ShopRequest, ShopRequestStatus
from crm.services.api_keys import create_api_key
from tests.e2e.staff_console import StaffAccount, StaffConsole
from tests.fakes.widget import WidgetCustomer
from tests.factories import make_customer, make_order
from tests.fakes.shop import SHOPIFY_SECRET, FakeShop
from tests.shop_fixtures import fixture

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def _shopify(stack: Stack, topic: str, body: dict[str, Any], event_id: str) -> httpx.Response:
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Event-Id": event_id,
               "Content-Type": "application/json"}
    async with httpx.AsyncClient() as http:
        return await http.post(stack.gateway_url + "/webhooks/shopify", content=raw, headers=headers)


async def _shop_answer(client: WidgetCustomer, timeout: float = 30) -> str:
    """The next message from the shop (a system message) on the customer's open widget."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        frame = json.loads(await asyncio.wait_for(client.ws.recv(), max(remaining, 0.1)))
        if frame["type"] == "message" and frame.get("from") == "system":
            return str(frame["text"])


def _customer_with_paid_order(crm_url: str, external_id: str, number: str) -> None:
    with session_scope(crm_url) as session:
        customer = make_customer(session, external_id=external_id, first_name="Nadia")
        make_order(session, customer=customer, number=number, status=OrderStatus.paid,
                   placed_at=utcnow() - timedelta(hours=3), lines=[("Oak Salt Cellar", 1, "15.00")])


async def _ask_to_cancel(client: WidgetCustomer, number: str) -> str:
    turn = await client.say(f"please cancel order {number}")
    assert f"#{number}" in turn.text, turn.text
    done = await client.press(turn.button("Yes"))
    assert f"I've asked the team to cancel order #{number}" in done.text, done.text
    return done.text


def _request_reference(crm_url: str, number: str) -> str:
    with session_scope(crm_url) as session:
        return session.scalars(
            select(ShopRequest.reference).join(Order).where(Order.number == number)
        ).one()


async def test_a_shopify_order_and_fulfilment_reach_a_verified_customer(stack: Stack, crm_url: str) -> None:
    placed = (utcnow() - timedelta(days=1)).isoformat()
    order = fixture("shopify_orders_create") | {
        "id": 7101000001, "name": "#7101", "order_number": 7101, "created_at": placed, "updated_at": placed,
        "email": "sophie.turner@example.com",
    }
    order["customer"] = order["customer"] | {"id": 7101000099, "email": "sophie.turner@example.com"}
    assert (await _shopify(stack, "orders/create", order, "e2e-order-7101")).json() == {"outcome": "applied"}
    shipped = (utcnow() - timedelta(hours=2)).isoformat()
    parcel = fixture("shopify_fulfillments_create") | {
        "order_id": 7101000001, "name": "#7101.1", "created_at": shipped, "updated_at": shipped,
        "tracking_number": "1Z999AA10123456784", "tracking_numbers": ["1Z999AA10123456784"],
    }
    assert (await _shopify(stack, "fulfillments/create", parcel, "e2e-ful-7101")).json() == {"outcome": "applied"}

    client = await WidgetCustomer.connect(stack.gateway_port)
    try:
        first = await client.say("where is my order?")
        assert "order number" in first.text.lower()
        await client.say("it's #7101")
        answer = await client.say("sophie.turner@example.com")
        assert "7101" in answer.text and "UPS" in answer.text, answer.text
        assert "1Z999AA10123456784" in answer.text
    finally:
        await client.close()


async def test_a_cancel_request_reaches_the_shop_signed_and_its_acceptance_the_customer(
    stack: Stack, stack_env: dict[str, str], crm_url: str, fake_shop: FakeShop
) -> None:
    _customer_with_paid_order(crm_url, "E2E-SHOP-1", "7201")
    client = await WidgetCustomer.connect(
        stack.gateway_port, customer_id="E2E-SHOP-1", secret=stack_env["WIDGET_IDENTITY_SECRET"]
    )
    try:
        await _ask_to_cancel(client, "7201")
        reference = _request_reference(crm_url, "7201")
        delivery = await asyncio.to_thread(fake_shop.wait_for, reference)
        assert delivery.signature_ok and delivery.event_id
        assert delivery.body["data"]["kind"] == "cancel" and delivery.body["data"]["order"]["number"] == "7201"
        # The shop does it and answers with a webhook back to the JSON API.
        with session_scope(crm_url) as session:
            _, key = create_api_key(session, name="e2e shop", actor="e2e")
        async with httpx.AsyncClient() as http:
            answered = await http.post(
                f"{stack.gateway_url}/api/v1/requests/{reference}",
                json={"status": "accepted"},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert answered.json() == {"reference": reference, "status": "accepted"}
        told = await _shop_answer(client)
        assert told.startswith("Good news: the team has cancelled order #7201.")
    finally:
        await client.close()
    with session_scope(crm_url) as session:
        assert session.scalars(select(Order.status).where(Order.number == "7201")).one() == OrderStatus.cancelled


async def test_a_cancel_request_refused_in_the_task_list_reaches_the_customer_with_the_reason(
    stack: Stack, stack_env: dict[str, str], crm_url: str, staff_user: StaffAccount, staff_console: StaffConsole
) -> None:
    _customer_with_paid_order(crm_url, "E2E-SHOP-2", "7202")
    client = await WidgetCustomer.connect(
        stack.gateway_port, customer_id="E2E-SHOP-2", secret=stack_env["WIDGET_IDENTITY_SECRET"]
    )
    try:
        await _ask_to_cancel(client, "7202")
        reference = _request_reference(crm_url, "7202")
        await staff_console.sign_in(staff_user.email, staff_user.password)
        page = staff_console.page
        await page.goto(stack.gateway_url + "/staff/requests")
        row = page.locator(f'tr[data-reference="{reference}"]')
        await expect(row).to_be_visible()
        await row.get_by_label(f"Reason for refusing {reference}").fill("it was packed and collected this morning")
        await row.get_by_role("button", name="Refuse").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{reference} refused")
        told = await _shop_answer(client)
        assert told == (
            "Sorry: the team couldn't cancel order #7202. Their reason: it was packed and collected this morning"
        )
    finally:
        await client.close()
    with session_scope(crm_url) as session:
        request = session.scalars(select(ShopRequest).where(ShopRequest.reference == reference)).one()
        assert request.status == ShopRequestStatus.refused and request.order.status == OrderStatus.paid
