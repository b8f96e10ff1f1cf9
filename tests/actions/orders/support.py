"""Helpers of the order action tests: a verified customer's tracker, a fresh order, follow-ups."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm.models import Order
from tests.actions.tracker_support import make_tracker

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
