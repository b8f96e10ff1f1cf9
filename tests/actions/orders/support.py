"""Helpers of the order action tests: a verified customer's tracker, their orders, a fresh order, follow-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import Customer, Order, OrderStatus
from tests.actions.tracker_support import make_tracker
from tests.factories import make_order

VERIFIED = {"customer_id": "CV1", "verified": True}


def order_tracker(
    intent: str,
    text: str = "",
    *,
    order_number: str | None = None,
    slots: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    entities = [{"entity": "order_number", "value": order_number}] if order_number else []
    return make_tracker(
        text=text or intent,
        intent=intent,
        entities=entities,
        slots={**VERIFIED, **(slots or {})},
        **kwargs,
    )


def reloaded(session: Session, order: Order) -> Order:
    session.expire_all()
    fresh = session.get(Order, order.id)
    assert fresh is not None
    return fresh


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e["event"] == "followup"]


def order_for(
    session: Session,
    customer: Customer,
    number: str,
    status: OrderStatus = OrderStatus.delivered,
    *,
    placed: float | None = None,
    shipped: float | None = None,
    delivered: float | None = None,
    **fields: Any,
) -> Order:
    """make_order for `customer`, with `placed`, `shipped` and `delivered` given in days ago."""
    for name, days in (("placed_at", placed), ("shipped_at", shipped), ("delivered_at", delivered)):
        if days is not None:
            fields[name] = utcnow() - timedelta(days=days)
    return make_order(session, customer=customer, number=number, status=status, **fields)
