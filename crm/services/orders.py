"""Orders as a customer sees them: finding, proving, changing, returning."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import Customer, Order, OrderStatus, ReturnRequest, ReturnStatus
from crm.normalize import normalize_email, normalize_order_number, normalize_phone
from crm.services.audit import audit
from crm.shop import load_shop_profile

__all__ = [
    "OPEN_STATUSES",
    "can_change",
    "can_return",
    "cancel_order",
    "change_shipping_address",
    "get_order_by_number",
    "get_order_for_customer",
    "invoice_summary",
    "latest_open_order",
    "normalize_email",
    "normalize_order_number",
    "normalize_phone",
    "recent_orders",
    "request_return",
    "returns_for_customer",
    "verify_order_email",
]

OPEN_STATUSES = (OrderStatus.placed, OrderStatus.paid, OrderStatus.shipped)
_CHANGEABLE = (OrderStatus.placed, OrderStatus.paid)
_RETURNABLE = (OrderStatus.shipped, OrderStatus.delivered)
# No 0/O or 1/I: customers read references out over the phone.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_ADDRESS_LENGTH = 1000


def get_order_by_number(session: Session, *, order_number: str) -> Order | None:
    """For staff and the owner only: it does not check who is asking."""
    number = normalize_order_number(order_number)
    if number is None:
        return None
    return session.scalars(select(Order).where(Order.number == number)).first()


def verify_order_email(session: Session, *, order_number: str, email: str) -> Customer | None:
    """The order's customer if the e-mail is the one on the order, else None.

    Unknown order and wrong e-mail look the same to the caller, so the answer
    never tells a stranger which order numbers exist.
    """
    number = normalize_order_number(order_number)
    address = normalize_email(email)
    if number is None or address is None:
        return None
    return session.scalars(
        select(Customer)
        .join(Order, Order.customer_id == Customer.id)
        .where(Order.number == number, func.lower(Customer.email) == address)
    ).first()


def get_order_for_customer(session: Session, *, customer: Customer, order_number: str) -> Order | None:
    """The order if it is this customer's; None for unknown and for someone else's alike."""
    number = normalize_order_number(order_number)
    if number is None:
        return None
    return session.scalars(
        select(Order).where(Order.number == number, Order.customer_id == customer.id)
    ).first()


def latest_open_order(session: Session, *, customer: Customer) -> Order | None:
    """The most recent order still on its way (placed, paid or shipped)."""
    return session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id, Order.status.in_(OPEN_STATUSES))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
    ).first()


def recent_orders(session: Session, *, customer: Customer, limit: int = 5) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )


def can_change(order: Order) -> bool:
    """Cancelling or re-addressing is possible until the parcel leaves."""
    return order.status in _CHANGEABLE


def cancel_order(session: Session, *, order: Order, actor: str) -> Order:
    if not can_change(order):
        raise ValueError(f"order {order.number} is {order.status.value} and can no longer be cancelled")
    order.status = OrderStatus.cancelled
    order.cancelled_at = utcnow()
    audit(session, actor=actor, action="order.cancel", subject=f"order:{order.number}")
    return order


def change_shipping_address(session: Session, *, order: Order, address: str, actor: str) -> Order:
    if not can_change(order):
        raise ValueError(f"order {order.number} is {order.status.value}; its address can no longer change")
    cleaned = "\n".join(line.strip() for line in address.strip().splitlines() if line.strip())
    if not cleaned:
        raise ValueError("the new address is empty")
    if len(cleaned) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"the new address is longer than {MAX_ADDRESS_LENGTH} characters")
    order.shipping_address = cleaned
    # The address itself is personal data and stays out of the audit log.
    audit(session, actor=actor, action="order.change_address", subject=f"order:{order.number}")
    return order


def _return_window_start(order: Order) -> datetime:
    return as_utc(order.delivered_at or order.shipped_at or order.placed_at)


def can_return(order: Order, *, now: datetime | None = None, window_days: int | None = None) -> bool:
    """Shipped or delivered, within the shop's return window, and no return
    already open for it (a rejected one may be asked for again)."""
    if order.status not in _RETURNABLE:
        return False
    if any(r.status != ReturnStatus.rejected for r in order.returns):
        return False
    if window_days is None:
        window_days = load_shop_profile().returns.window_days
    return as_utc(now or utcnow()) <= _return_window_start(order) + timedelta(days=window_days)


def _new_reference(session: Session) -> str:
    # 32**6 (about a billion) references: guessing one is hopeless, and a
    # collision is rare enough that a few retries settle it.
    for _ in range(20):
        reference = "R-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
        taken = session.scalar(select(ReturnRequest.id).where(ReturnRequest.reference == reference))
        if taken is None:
            return reference
    raise RuntimeError("could not find a free return reference")


def request_return(
    session: Session, *, order: Order, reason: str, actor: str, now: datetime | None = None
) -> ReturnRequest:
    if not can_return(order, now=now):
        raise ValueError(f"order {order.number} cannot be returned")
    request = ReturnRequest(
        reference=_new_reference(session),
        order=order,
        reason=reason.strip()[:500],
        status=ReturnStatus.requested,
        amount=order.total,
        created_at=as_utc(now or utcnow()),
    )
    session.add(request)
    session.flush()
    audit(
        session,
        actor=actor,
        action="order.return_request",
        subject=f"order:{order.number}",
        detail={"reference": request.reference},
    )
    return request


def returns_for_customer(session: Session, *, customer: Customer) -> list[ReturnRequest]:
    return list(
        session.scalars(
            select(ReturnRequest)
            .join(Order)
            .where(Order.customer_id == customer.id)
            .order_by(ReturnRequest.created_at.desc(), ReturnRequest.id.desc())
        )
    )


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{Decimal(amount):.2f}"


def invoice_summary(order: Order, *, tz: tzinfo | None = None) -> dict[str, Any]:
    """Plain, JSON-ready invoice data: money as "12.50" strings, dates as ISO,
    in the shop's time zone (`tz` overrides it)."""
    zone = tz or load_shop_profile().opening_hours.tz
    lines = []
    for line in order.lines:
        price = line.product.price
        lines.append(
            {
                "quantity": line.quantity,
                "name": line.product.name,
                "unit_price": _money(price),
                "line_total": _money(None if price is None else price * line.quantity),
            }
        )
    return {
        "number": order.number,
        "date": as_utc(order.placed_at).astimezone(zone).date().isoformat(),
        "status": order.status.value,
        "lines": lines,
        "total": _money(order.total),
        "currency": order.currency,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    }
