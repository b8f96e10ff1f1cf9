"""bot.shop.woocommerce: the REST API v3 objects each topic delivers."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from bot.shop import woocommerce
from crm.models import OrderStatus
from crm.services.shop_sync import CustomerUpdate, OrderUpdate, UpdateRefused
from tests.shop_fixtures import fixture


def test_order_created() -> None:
    update = woocommerce.translate("order.created", fixture("woocommerce_order_created"))
    assert isinstance(update, OrderUpdate)
    assert (update.number, update.platform_id, update.status) == ("727", "woocommerce:727", OrderStatus.paid)
    assert update.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert update.total == Decimal("29.35")
    assert [(l.name, l.quantity, l.price) for l in update.lines or ()] == [
        ("Woo Single #1", 2, Decimal("3.00")),
        ("Ship Your Idea &ndash; Color: Black, Size: M Test", 1, Decimal("12.00")),
    ]
    # A guest (customer_id 0): known by the order's billing e-mail.
    assert update.customer is not None and update.customer.external_id == "woocommerce-guest-727"
    assert update.customer.email == "john.doe@example.com"


def test_order_updated_completed_with_shipment_tracking() -> None:
    update = woocommerce.translate("order.updated", fixture("woocommerce_order_updated"))
    assert isinstance(update, OrderUpdate)
    assert (update.status, update.carrier, update.tracking_number) == (
        OrderStatus.shipped, "USPS", "9400111899223197428490"
    )
    assert update.shipped_at == datetime(2017, 3, 23, 10, 0, tzinfo=timezone.utc)


def test_order_deleted() -> None:
    update = woocommerce.translate("order.deleted", fixture("woocommerce_order_deleted"))
    assert isinstance(update, OrderUpdate) and update.deleted and update.platform_id == "woocommerce:727"


def test_customers() -> None:
    created = woocommerce.translate("customer.created", fixture("woocommerce_customer_created"))
    updated = woocommerce.translate("customer.updated", fixture("woocommerce_customer_updated"))
    assert isinstance(created, CustomerUpdate) and isinstance(updated, CustomerUpdate)
    assert (created.external_id, created.email) == ("25", "john.doe@example.com")
    assert updated.updated_at is not None and created.updated_at is not None
    assert updated.updated_at > created.updated_at


def test_the_event_key_is_the_resource_and_its_modification_time() -> None:
    body = fixture("woocommerce_order_created")
    assert woocommerce.event_key("order.created", body) == "order:727:2017-03-22T19:28:08+00:00"
    # A second delivery (new delivery id) of the same change has the same key.
    assert woocommerce.event_key("order.updated", body) == woocommerce.event_key("order.created", body)
    assert woocommerce.event_key("order.deleted", {"id": 727}) == "order:727:deleted"
    with pytest.raises(UpdateRefused, match="date_modified_gmt is missing"):
        woocommerce.event_key("order.updated", {"id": 727})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": None}, "status is missing"),
        ({"number": "abc", "id": "abc"}, "not an order number"),
        ({"line_items": [{"name": "", "quantity": 1}]}, "has no name"),
        ({"date_created_gmt": "22/03/2017"}, "date_created_gmt is not an ISO 8601 date"),
    ],
)
def test_bad_orders_are_refused_with_the_reason(change: dict, reason: str) -> None:
    with pytest.raises(UpdateRefused, match=reason):
        woocommerce.translate("order.updated", fixture("woocommerce_order_created") | change)
