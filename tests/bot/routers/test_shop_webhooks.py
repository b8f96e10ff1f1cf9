"""POST /webhooks/shopify and /webhooks/woocommerce through the whole gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Order, OrderStatus, ShopEvent
from tests.fakes.gateway import Gateway
from tests.shop_fixtures import fixture, fixture_bytes

SHOPIFY_SECRET = "shpss_test_secret"
WOO_SECRET = "wc-secret-123"


def _sig(secret: str, body: bytes) -> str:
    # Computed here with the standard library, apart from the code under test.
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest_asyncio.fixture
async def shop_gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway(shopify_webhook_secret=SHOPIFY_SECRET, woocommerce_webhook_secret=WOO_SECRET)


async def _shopify(gw: Gateway, topic: str, body: bytes, *, event_id: str, headers: dict[str, str] | None = None,
                   signature: str | None = None) -> httpx.Response:
    sent = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature if signature is not None else _sig(SHOPIFY_SECRET, body),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": f"wh-{event_id}",
        "X-Shopify-Triggered-At": "2022-01-01T00:00:00Z",
        "X-Shopify-Shop-Domain": "juniper-oak.myshopify.com",
        "Content-Type": "application/json",
    } | (headers or {})
    async with httpx.AsyncClient() as http:
        return await http.post(gw.url + "/webhooks/shopify", content=body, headers=sent)


async def _woo(gw: Gateway, topic: str, body: bytes, *, signature: str | None = None) -> httpx.Response:
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": signature if signature is not None else _sig(WOO_SECRET, body),
        "X-WC-Webhook-Delivery-ID": "fresh-every-time",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient() as http:
        return await http.post(gw.url + "/webhooks/woocommerce", content=body, headers=headers)


def _order(db: sessionmaker[Session], number: str) -> Order | None:
    with db() as session:
        return session.scalars(select(Order).where(Order.number == number)).first()


@pytest.mark.asyncio
async def test_every_shopify_topic_in_a_lifecycle(shop_gateway: Gateway, db: sessionmaker[Session]) -> None:
    steps = [
        ("customers/create", "shopify_customers_create", "applied"),
        ("customers/update", "shopify_customers_update", "applied"),
        ("orders/create", "shopify_orders_create", "applied"),
        ("orders/updated", "shopify_orders_updated", "applied"),
        ("fulfillments/create", "shopify_fulfillments_create", "applied"),
        ("orders/fulfilled", "shopify_orders_fulfilled", "applied"),
        ("fulfillments/update", "shopify_fulfillments_update", "applied"),
        ("refunds/create", "shopify_refunds_create", "applied"),
    ]
    for n, (topic, name, outcome) in enumerate(steps):
        response = await _shopify(shop_gateway, topic, fixture_bytes(name), event_id=f"ev-{n}")
        assert (response.status_code, response.json()) == (200, {"outcome": outcome}), topic
    order = _order(db, "9999")
    assert order is not None
    assert (order.status, order.carrier, order.tracking_number) == (OrderStatus.delivered, "UPS", "1Z2345")
    assert order.shipping_address is not None and "7 New Road" in order.shipping_address
    # orders/cancelled of 2 January, delivered after the 3 January fulfilment: too old to apply.
    cancelled = await _shopify(shop_gateway, "orders/cancelled", fixture_bytes("shopify_orders_cancelled"), event_id="ev-x")
    assert cancelled.json() == {"outcome": "stale"}
    assert (_order(db, "9999") or Order()).status == OrderStatus.delivered


@pytest.mark.asyncio
async def test_shopify_replay_and_reordering(shop_gateway: Gateway, db: sessionmaker[Session]) -> None:
    created, updated = fixture_bytes("shopify_orders_create"), fixture_bytes("shopify_orders_cancelled")
    assert (await _shopify(shop_gateway, "orders/create", created, event_id="e1")).json()["outcome"] == "applied"
    assert (await _shopify(shop_gateway, "orders/cancelled", updated, event_id="e2")).json()["outcome"] == "applied"
    # Shopify retries e1, and an older orders/updated shows up late with a new event id.
    assert (await _shopify(shop_gateway, "orders/create", created, event_id="e1")).json()["outcome"] == "duplicate"
    late = (await _shopify(shop_gateway, "orders/updated", created, event_id="e3")).json()
    assert late["outcome"] == "stale"
    order = _order(db, "9999")
    assert order is not None and order.status == OrderStatus.cancelled


@pytest.mark.asyncio
async def test_shopify_refusals_say_why(shop_gateway: Gateway, db: sessionmaker[Session]) -> None:
    body = fixture_bytes("shopify_orders_create")
    wrong = await _shopify(shop_gateway, "orders/create", body, event_id="s1", signature=_sig("other", body))
    assert wrong.status_code == 401 and "X-Shopify-Hmac-Sha256" in wrong.json()["detail"]
    missing = await _shopify(shop_gateway, "orders/create", body, event_id="s2", signature="")
    assert missing.status_code == 401
    topic = await _shopify(shop_gateway, "products/create", body, event_id="s3")
    assert topic.status_code == 400 and "X-Shopify-Topic" in topic.json()["detail"]
    no_ids = await _shopify(shop_gateway, "orders/create", body, event_id="",
                            headers={"X-Shopify-Webhook-Id": ""})
    assert no_ids.status_code == 400 and "X-Shopify-Event-Id" in no_ids.json()["detail"]
    not_json = await _shopify(shop_gateway, "orders/create", b"[1, 2", event_id="s4")
    assert not_json.status_code == 400 and "JSON object" in not_json.json()["detail"]
    bad = json.dumps(fixture("shopify_orders_create") | {"total_price": "lots"}).encode()
    unreadable = await _shopify(shop_gateway, "orders/create", bad, event_id="s5")
    assert unreadable.status_code == 422 and "total_price" in unreadable.json()["detail"]
    # Nothing was half-written, and the bad event can be sent again once fixed.
    assert _order(db, "9999") is None
    with db() as session:
        assert session.scalars(select(ShopEvent)).all() == []


@pytest.mark.asyncio
async def test_shopify_endpoint_is_shut_without_a_secret(start_gateway: Callable[..., Any]) -> None:
    gw = await start_gateway()
    body = fixture_bytes("shopify_orders_create")
    assert (await _shopify(gw, "orders/create", body, event_id="z", signature=_sig("", body))).status_code == 401


@pytest.mark.asyncio
async def test_woocommerce_topics_ping_and_redelivery(shop_gateway: Gateway, db: sessionmaker[Session]) -> None:
    async with httpx.AsyncClient() as http:
        ping = await http.post(
            shop_gateway.url + "/webhooks/woocommerce",
            content=b"webhook_id=42",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert (ping.status_code, ping.json()) == (200, {"outcome": "ping"})
    for topic, name in [("customer.created", "woocommerce_customer_created"),
                        ("customer.updated", "woocommerce_customer_updated"),
                        ("order.created", "woocommerce_order_created"),
                        ("order.updated", "woocommerce_order_updated")]:
        response = await _woo(shop_gateway, topic, fixture_bytes(name))
        assert (response.status_code, response.json()) == (200, {"outcome": "applied"}), topic
    order = _order(db, "727")
    assert order is not None and (order.status, order.tracking_number) == (OrderStatus.shipped, "9400111899223197428490")
    again = await _woo(shop_gateway, "order.updated", fixture_bytes("woocommerce_order_updated"))
    assert again.json() == {"outcome": "duplicate"}
    # The same change delivered under the other topic is the same event too.
    assert (await _woo(shop_gateway, "order.updated", fixture_bytes("woocommerce_order_created"))).json() == {
        "outcome": "duplicate"
    }
    # An in-between change (on hold, before it was completed) that arrives last.
    between = fixture("woocommerce_order_created") | {"status": "on-hold", "date_modified_gmt": "2017-03-22T21:00:00"}
    late = await _woo(shop_gateway, "order.updated", json.dumps(between).encode())
    assert late.json() == {"outcome": "stale"}
    deleted = await _woo(shop_gateway, "order.deleted", fixture_bytes("woocommerce_order_deleted"))
    assert deleted.json() == {"outcome": "applied"}
    order = _order(db, "727")
    assert order is not None and order.status == OrderStatus.returned


@pytest.mark.asyncio
async def test_woocommerce_refusals(shop_gateway: Gateway) -> None:
    body = fixture_bytes("woocommerce_order_created")
    assert (await _woo(shop_gateway, "order.created", body, signature=_sig("nope", body))).status_code == 401
    # A body that only looks like the ping but carries a wrong signature is not a ping.
    async with httpx.AsyncClient() as http:
        fake = await http.post(shop_gateway.url + "/webhooks/woocommerce", content=b"webhook_id=1",
                               headers={"X-WC-Webhook-Signature": "forged"})
    assert fake.status_code == 401
    assert (await _woo(shop_gateway, "coupon.created", body)).status_code == 400
    bad = json.dumps(fixture("woocommerce_order_created") | {"status": 3}).encode()
    response = await _woo(shop_gateway, "order.created", bad)
    assert response.status_code == 422 and "status" in response.json()["detail"]


@pytest.mark.asyncio
async def test_a_big_order_fits_but_a_huge_body_does_not(shop_gateway: Gateway, db: sessionmaker[Session]) -> None:
    line = fixture("shopify_orders_create")["line_items"][0]
    big = fixture("shopify_orders_create") | {"line_items": [line | {"id": n} for n in range(300)]}
    body = json.dumps(big).encode()
    assert len(body) > 64 * 1024  # more than the gateway takes on its other routes
    response = await _shopify(shop_gateway, "orders/create", body, event_id="big")
    assert response.json() == {"outcome": "applied"}
    order = _order(db, "9999")
    assert order is not None
    huge = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    assert (await _shopify(shop_gateway, "orders/create", huge, event_id="huge")).status_code == 413
