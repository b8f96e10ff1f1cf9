"""The neutral shape of what a shop platform says: updates, events, results.

Every platform (Shopify, WooCommerce, the JSON API, a reconciliation file) is
translated at the edge into these; `crm.services.shop_sync.receive` applies
them (and these names stay importable from there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm.models import Order, OrderStatus


@dataclass(frozen=True)
class LineUpdate:
    name: str
    quantity: int
    price: Decimal | None = None


@dataclass(frozen=True)
class CustomerUpdate:
    external_id: str
    updated_at: datetime | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    marketing_opt_in: bool | None = None
    # Consent to order notices where the platform asks for it (the JSON API);
    # Shopify's and WooCommerce's marketing flags are not this.
    order_updates_opt_in: bool | None = None


@dataclass(frozen=True)
class OrderUpdate:
    """What the platform says about one order. None means "not said, keep it"."""

    number: str | None = None
    platform_id: str | None = None
    updated_at: datetime | None = None
    status: OrderStatus | None = None
    customer: CustomerUpdate | None = None
    placed_at: datetime | None = None
    total: Decimal | None = None
    currency: str | None = None
    lines: tuple[LineUpdate, ...] | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    shipping_address: str | None = None
    # A refund was created (Shopify refunds/create): settles returns.
    refunded: bool = False
    # All of it was refunded: the order is over (cancelled, or returned if it had left).
    fully_refunded: bool = False
    # A fact about one part (a fulfilment), not the whole order: its status may
    # only move forward, and it says nothing about the order's modification time.
    forward_only: bool = False
    # The platform deleted the order (WooCommerce order.deleted).
    deleted: bool = False
    # The carrier's word on the parcel (Shopify shipment_status: in_transit,
    # out_for_delivery, delivered, failure...) and the link to follow it.
    shipment_status: str | None = None
    tracking_url: str | None = None


@dataclass(frozen=True)
class IncomingEvent:
    source: str
    key: str
    topic: str
    payload: dict[str, Any] | None


@dataclass
class SyncResult:
    # applied, duplicate, stale, erased, unknown_order, ignored
    outcome: str
    subject: str = ""
    order: Order | None = None
    # Requests of customers this update settled: the caller tells them.
    settled: list[int] = field(default_factory=list)


class UpdateRefused(ValueError):
    """The update cannot be applied as it stands (the reason is safe to show the sender)."""
