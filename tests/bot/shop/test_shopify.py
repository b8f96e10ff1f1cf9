"""bot.shop.shopify: each topic's documented payload, and the ones it must refuse."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from bot.shop import shopify
from crm.models import OrderStatus
from crm.services.shop_sync import CustomerUpdate, OrderUpdate, UpdateRefused
from tests.shop_fixtures import fixture


def _order(topic: str, name: str) -> OrderUpdate:
    update = shopify.translate(topic, fixture(name), triggered_at=None)
    assert isinstance(update, OrderUpdate)
    return update


def test_orders_create() -> None:
    update = _order("orders/create", "shopify_orders_create")
    assert update.number == "9999" and update.platform_id == "shopify:820982911946154508"
    assert update.status == OrderStatus.paid
    assert update.total == Decimal("403.00") and update.currency == "USD"
    assert update.placed_at == datetime(2022, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert [(l.name, l.quantity, l.price) for l in update.lines or ()] == [("IPod Nano - 8GB", 1, Decimal("199.00"))] * 2
    assert update.customer is not None and update.customer.external_id == "115310627314723954"
    assert update.customer.email == "john@example.com"
    assert update.shipping_address is not None and "123 Shipping Street" in update.shipping_address


def test_orders_updated_carries_the_new_address() -> None:
    update = _order("orders/updated", "shopify_orders_updated")
    assert update.shipping_address is not None and "7 New Road" in update.shipping_address
    assert update.updated_at == datetime(2022, 1, 1, 15, 0, tzinfo=timezone.utc)


def test_orders_cancelled() -> None:
    update = _order("orders/cancelled", "shopify_orders_cancelled")
    assert update.status == OrderStatus.cancelled and update.cancelled_at is not None
    assert update.fully_refunded


def test_orders_fulfilled_reads_the_tracking() -> None:
    update = _order("orders/fulfilled", "shopify_orders_fulfilled")
    assert (update.status, update.carrier, update.tracking_number) == (OrderStatus.shipped, "UPS", "1Z2345")


def test_fulfillments_create_and_update() -> None:
    created = _order("fulfillments/create", "shopify_fulfillments_create")
    assert (created.number, created.platform_id) == ("9999", "shopify:820982911946154508")
    assert (created.status, created.tracking_number, created.forward_only) == (OrderStatus.shipped, "1Z2345", True)
    updated = _order("fulfillments/update", "shopify_fulfillments_update")
    assert updated.status == OrderStatus.delivered and updated.delivered_at is not None


def test_a_pending_fulfilment_is_not_a_shipment() -> None:
    body = fixture("shopify_fulfillments_create") | {"status": "pending"}
    update = shopify.translate("fulfillments/create", body, triggered_at=None)
    assert isinstance(update, OrderUpdate) and update.status is None


def test_refunds_create() -> None:
    update = _order("refunds/create", "shopify_refunds_create")
    assert update.refunded and not update.fully_refunded and update.platform_id == "shopify:820982911946154508"


def test_customers_create_and_update() -> None:
    created = shopify.translate("customers/create", fixture("shopify_customers_create"), triggered_at=None)
    assert isinstance(created, CustomerUpdate)
    assert (created.external_id, created.email, created.first_name) == ("706405506930370084", "bob@biller.com", "Bob")
    updated = shopify.translate("customers/update", fixture("shopify_customers_update"), triggered_at=None)
    assert isinstance(updated, CustomerUpdate) and updated.last_name == "Biller-Smith"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": "not a number", "order_number": None}, "no readable name"),
        ({"line_items": "none"}, "line_items is not a list"),
        ({"line_items": [{"name": "Mug", "quantity": -1}]}, "quantity is not a positive"),
        ({"total_price": "lots"}, "total_price is not an amount"),
        ({"updated_at": "yesterday"}, "updated_at is not an ISO 8601 date"),
        ({"id": None}, "id is missing"),
    ],
)
def test_bad_order_payloads_are_refused_with_the_reason(change: dict, reason: str) -> None:
    with pytest.raises(UpdateRefused, match=reason):
        shopify.translate("orders/updated", fixture("shopify_orders_create") | change, triggered_at=None)


def test_an_unknown_topic_is_refused() -> None:
    with pytest.raises(UpdateRefused, match="not one this endpoint takes"):
        shopify.translate("products/create", {}, triggered_at=None)
