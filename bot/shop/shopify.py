"""Shopify Admin REST webhook payloads → neutral updates.

Topics: orders/create, orders/updated, orders/cancelled, orders/fulfilled
(an order object), fulfillments/create, fulfillments/update (a fulfillment),
refunds/create (a refund), customers/create, customers/update (a customer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.shop import common as c
from crm.models import OrderStatus
from crm.normalize import normalize_order_number
from crm.services.shop_sync import CustomerUpdate, OrderUpdate, UpdateRefused

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled"})
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
TOPICS = ORDER_TOPICS | FULFILLMENT_TOPICS | CUSTOMER_TOPICS | {"refunds/create"}
# Fulfilment states that mean nothing left the warehouse.
_NOT_SHIPPED = {"cancelled", "error", "failure", "pending", "open"}

_ADDRESS_KEYS: dict[str, Any] = {"streets": ("address1", "address2"), "postcode": "zip"}


def platform_id(order_id: Any) -> str:
    return f"shopify:{c.ident(order_id, field='order_id')}"


def translate(topic: str, body: dict[str, Any], *, triggered_at: datetime | None) -> OrderUpdate | CustomerUpdate:
    if topic in ORDER_TOPICS:
        return order(body, triggered_at=triggered_at)
    if topic in FULFILLMENT_TOPICS:
        return fulfillment(body, triggered_at=triggered_at)
    if topic == "refunds/create":
        return refund(body, triggered_at=triggered_at)
    if topic in CUSTOMER_TOPICS:
        return customer(body, triggered_at=triggered_at)
    raise UpdateRefused(f"topic {topic!r} is not one this endpoint takes ({', '.join(sorted(TOPICS))})")


def customer(body: dict[str, Any], *, triggered_at: datetime | None = None) -> CustomerUpdate:
    consent = body.get("email_marketing_consent")
    opted_in = body.get("accepts_marketing")
    if isinstance(consent, dict):
        opted_in = consent.get("state") == "subscribed"
    return CustomerUpdate(
        external_id=c.ident(body.get("id"), field="customer.id"),
        updated_at=c.timestamp(body.get("updated_at"), field="customer.updated_at") or triggered_at,
        email=c.email(body.get("email")),
        first_name=c.text(body.get("first_name"), field="customer.first_name", limit=100),
        last_name=c.text(body.get("last_name"), field="customer.last_name", limit=100),
        phone=c.phone(body.get("phone")),
        marketing_opt_in=opted_in if isinstance(opted_in, bool) else None,
    )


def _order_customer(body: dict[str, Any]) -> CustomerUpdate:
    person = body.get("customer")
    if isinstance(person, dict) and person.get("id"):
        update = customer(person)
        if update.email is None:
            update = CustomerUpdate(**{**update.__dict__, "email": c.email(body.get("email"))})
        return update
    # A guest checkout: the order's own e-mail and addresses are all there is.
    billing = body.get("billing_address") if isinstance(body.get("billing_address"), dict) else {}
    return CustomerUpdate(
        external_id=f"shopify-guest-{c.ident(body.get('id'), field='id')}",
        email=c.email(body.get("email") or body.get("contact_email")),
        first_name=c.text(billing.get("first_name"), field="billing_address.first_name", limit=100) or "Customer",
        last_name=c.text(billing.get("last_name"), field="billing_address.last_name", limit=100),
        phone=c.phone(body.get("phone") or billing.get("phone")),
    )


def _number(body: dict[str, Any]) -> str:
    number = normalize_order_number(str(body.get("name") or "")) or normalize_order_number(
        str(body.get("order_number") or "")
    )
    if number is None:
        raise UpdateRefused("the order has no readable name (like #1001) or order_number")
    return number


def _shipped(fulfillments: list[dict[str, Any]]) -> dict[str, Any] | None:
    live = [f for f in fulfillments if isinstance(f, dict) and f.get("status") not in _NOT_SHIPPED]
    return max(live, key=lambda f: str(f.get("updated_at") or f.get("created_at") or ""), default=None)


def order(body: dict[str, Any], *, triggered_at: datetime | None = None) -> OrderUpdate:
    updated_at = c.timestamp(body.get("updated_at"), field="updated_at") or triggered_at
    cancelled_at = c.timestamp(body.get("cancelled_at"), field="cancelled_at")
    fulfillments = body.get("fulfillments") or []
    if not isinstance(fulfillments, list):
        raise UpdateRefused("fulfillments is not a list")
    parcel = _shipped(fulfillments)
    status = OrderStatus.placed
    if body.get("financial_status") in ("paid", "partially_refunded", "refunded", "partially_paid"):
        status = OrderStatus.paid
    carrier = tracking = shipment_status = tracking_url = None
    shipped_at = delivered_at = None
    if parcel is not None:
        status = OrderStatus.shipped
        carrier = c.text(parcel.get("tracking_company"), field="tracking_company", limit=50)
        tracking = c.text(parcel.get("tracking_number"), field="tracking_number", limit=64)
        shipped_at = c.timestamp(parcel.get("created_at"), field="fulfillments.created_at")
        shipment_status = c.text(parcel.get("shipment_status"), field="shipment_status", limit=40)
        tracking_url = c.text(parcel.get("tracking_url"), field="tracking_url", limit=500)
        if parcel.get("shipment_status") == "delivered":
            status = OrderStatus.delivered
            delivered_at = c.timestamp(parcel.get("updated_at"), field="fulfillments.updated_at")
    if cancelled_at is not None:
        status = OrderStatus.cancelled
    return OrderUpdate(
        number=_number(body),
        platform_id=platform_id(body.get("id")),
        updated_at=updated_at,
        status=status,
        customer=_order_customer(body),
        placed_at=c.timestamp(body.get("created_at"), field="created_at"),
        total=c.money(body.get("total_price"), field="total_price"),
        currency=c.text(body.get("currency"), field="currency", limit=3),
        lines=c.lines(body.get("line_items") or [], names=("name", "title")),
        carrier=carrier,
        tracking_number=tracking,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        cancelled_at=cancelled_at,
        shipping_address=c.postal_address(body.get("shipping_address"), **_ADDRESS_KEYS),
        refunded=body.get("financial_status") == "refunded",
        fully_refunded=body.get("financial_status") == "refunded",
        shipment_status=shipment_status,
        tracking_url=tracking_url,
    )


def fulfillment(body: dict[str, Any], *, triggered_at: datetime | None = None) -> OrderUpdate:
    # "#1001.1": the order's name and the fulfilment's index.
    name = str(body.get("name") or "").rsplit(".", 1)[0]
    updated_at = c.timestamp(body.get("updated_at"), field="updated_at") or triggered_at
    if body.get("status") in _NOT_SHIPPED:
        return OrderUpdate(
            number=normalize_order_number(name),
            platform_id=platform_id(body.get("order_id")),
            updated_at=updated_at,
            forward_only=True,
        )
    delivered = body.get("shipment_status") == "delivered"
    return OrderUpdate(
        number=normalize_order_number(name),
        platform_id=platform_id(body.get("order_id")),
        updated_at=updated_at,
        status=OrderStatus.delivered if delivered else OrderStatus.shipped,
        carrier=c.text(body.get("tracking_company"), field="tracking_company", limit=50),
        tracking_number=c.text(body.get("tracking_number"), field="tracking_number", limit=64),
        shipped_at=c.timestamp(body.get("created_at"), field="created_at"),
        delivered_at=updated_at if delivered else None,
        forward_only=True,
        shipment_status=c.text(body.get("shipment_status"), field="shipment_status", limit=40),
        tracking_url=c.text(body.get("tracking_url"), field="tracking_url", limit=500),
    )


def refund(body: dict[str, Any], *, triggered_at: datetime | None = None) -> OrderUpdate:
    return OrderUpdate(
        platform_id=platform_id(body.get("order_id")),
        updated_at=c.timestamp(body.get("processed_at") or body.get("created_at"), field="created_at")
        or triggered_at,
        refunded=True,
        forward_only=True,
    )
