"""WooCommerce REST API v3 webhook payloads → neutral updates.

Topics: order.created, order.updated, order.deleted (a bare `{"id": …}`),
customer.created, customer.updated. Dates are read from the *_gmt fields
(naive UTC); tracking from the Shipment Tracking extension's meta data when
the shop uses it.
"""

from __future__ import annotations

from typing import Any

from bot.shop import common as c
from crm.models import OrderStatus
from crm.normalize import normalize_order_number
from crm.services.shop_sync import CustomerUpdate, OrderUpdate, UpdateRefused

TOPICS = frozenset({"order.created", "order.updated", "order.deleted", "customer.created", "customer.updated"})
_STATUS = {
    "pending": OrderStatus.placed,
    "on-hold": OrderStatus.placed,
    "failed": OrderStatus.placed,
    "processing": OrderStatus.paid,
    # WooCommerce's "completed" is "fulfilled": it has left the shop.
    "completed": OrderStatus.shipped,
    "cancelled": OrderStatus.cancelled,
}
_TRACKING_META = "_wc_shipment_tracking_items"

_ADDRESS_KEYS: dict[str, Any] = {"streets": ("address_1", "address_2"), "postcode": "postcode"}


def platform_id(order_id: Any) -> str:
    return f"woocommerce:{c.ident(order_id, field='id')}"


def event_key(topic: str, body: dict[str, Any]) -> str:
    """Deliveries get a new id each time: the resource and its modification time name the event."""
    resource = topic.split(".", 1)[0]
    ident = c.ident(body.get("id"), field="id")
    if topic.endswith(".deleted"):
        return f"{resource}:{ident}:deleted"
    modified = body.get("date_modified_gmt") or body.get("date_modified")
    if not modified:
        raise UpdateRefused("date_modified_gmt is missing")
    return f"{resource}:{ident}:{c.timestamp(modified, field='date_modified_gmt').isoformat()}"  # type: ignore[union-attr]


def translate(topic: str, body: dict[str, Any]) -> OrderUpdate | CustomerUpdate:
    if topic == "order.deleted":
        return OrderUpdate(platform_id=platform_id(body.get("id")), deleted=True)
    if topic.startswith("order."):
        return order(body)
    if topic.startswith("customer."):
        return customer(body)
    raise UpdateRefused(f"topic {topic!r} is not one this endpoint takes ({', '.join(sorted(TOPICS))})")


def customer(body: dict[str, Any]) -> CustomerUpdate:
    billing = body.get("billing") if isinstance(body.get("billing"), dict) else {}
    return CustomerUpdate(
        external_id=c.ident(body.get("id"), field="id"),
        updated_at=c.timestamp(body.get("date_modified_gmt"), field="date_modified_gmt"),
        email=c.email(body.get("email")),
        first_name=c.text(body.get("first_name"), field="first_name", limit=100),
        last_name=c.text(body.get("last_name"), field="last_name", limit=100),
        phone=c.phone(billing.get("phone")),
    )


def _order_customer(body: dict[str, Any]) -> CustomerUpdate:
    billing = c.obj(body.get("billing") or {}, field="billing")
    person = body.get("customer_id")
    external_id = str(person) if isinstance(person, int) and person > 0 else f"woocommerce-guest-{body.get('id')}"
    return CustomerUpdate(
        external_id=external_id,
        email=c.email(billing.get("email")),
        first_name=c.text(billing.get("first_name"), field="billing.first_name", limit=100) or "Customer",
        last_name=c.text(billing.get("last_name"), field="billing.last_name", limit=100),
        phone=c.phone(billing.get("phone")),
    )


def _tracking(meta: Any) -> tuple[str | None, str | None]:
    for entry in meta if isinstance(meta, list) else []:
        if isinstance(entry, dict) and entry.get("key") == _TRACKING_META and isinstance(entry.get("value"), list):
            items = [i for i in entry["value"] if isinstance(i, dict)]
            if items:
                last = items[-1]
                carrier = last.get("tracking_provider") or last.get("custom_tracking_provider")
                return (
                    c.text(carrier, field="tracking_provider", limit=50),
                    c.text(last.get("tracking_number"), field="tracking_number", limit=64),
                )
    return None, None


def order(body: dict[str, Any]) -> OrderUpdate:
    raw_status = body.get("status")
    if not isinstance(raw_status, str):
        raise UpdateRefused("status is missing")
    number = normalize_order_number(str(body.get("number") or body.get("id") or ""))
    if number is None:
        raise UpdateRefused("number is not an order number")
    carrier, tracking = _tracking(body.get("meta_data"))
    status = _STATUS.get(raw_status)
    completed = c.timestamp(body.get("date_completed_gmt"), field="date_completed_gmt")
    return OrderUpdate(
        number=number,
        platform_id=platform_id(body.get("id")),
        updated_at=c.timestamp(body.get("date_modified_gmt"), field="date_modified_gmt"),
        status=status,
        customer=_order_customer(body),
        placed_at=c.timestamp(body.get("date_created_gmt"), field="date_created_gmt"),
        total=c.money(body.get("total"), field="total"),
        currency=c.text(body.get("currency"), field="currency", limit=3),
        lines=c.lines(body.get("line_items") or []),
        carrier=carrier,
        tracking_number=tracking,
        shipped_at=completed if status == OrderStatus.shipped else None,
        shipping_address=c.postal_address(body.get("shipping"), **_ADDRESS_KEYS),
        refunded=raw_status == "refunded" or bool(body.get("refunds")),
        fully_refunded=raw_status == "refunded",
    )
