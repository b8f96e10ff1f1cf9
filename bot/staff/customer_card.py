"""The customer's CRM card beside a conversation in the staff console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import Consent, Conversation, Customer, Feedback, Order
from crm.services.customers import customer_segment

_ORDERS_ON_CARD = 5
_FEEDBACK_ON_CARD = 5


@dataclass(frozen=True)
class CustomerCard:
    external_id: str
    name: str
    email: str | None
    phone: str | None
    segment: str
    marketing_opt_in: bool
    consents: list[tuple[str, bool, str, datetime]]
    orders: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    conversations: int
    # Order notices: None = never asked (nothing is sent).
    order_updates_opt_in: bool | None = None



def customer_card(session: Session, *, customer: Customer) -> CustomerCard:
    orders = session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.placed_at.desc())
        .limit(_ORDERS_ON_CARD)
    )
    feedback = session.scalars(
        select(Feedback)
        .where(Feedback.customer_id == customer.id)
        .order_by(Feedback.created_at.desc())
        .limit(_FEEDBACK_ON_CARD)
    )
    consents = session.scalars(
        select(Consent)
        .where(Consent.customer_id == customer.id)
        .order_by(Consent.created_at.desc())
        .limit(10)
    )
    conversations = session.scalar(
        select(func.count(Conversation.id)).where(Conversation.customer_id == customer.id)
    )
    return CustomerCard(
        external_id=customer.external_id,
        name=f"{customer.first_name} {customer.last_name}".strip(),
        email=customer.email,
        phone=customer.phone,
        segment=customer_segment(session, customer=customer),
        marketing_opt_in=customer.marketing_opt_in,
        order_updates_opt_in=customer.order_updates_opt_in,
        consents=[(c.kind, c.granted, c.source, as_utc(c.created_at)) for c in consents],
        orders=[
            {
                "number": o.number,
                "status": o.status.value,
                "total": f"{o.total:.2f} {o.currency}",
                "placed_at": as_utc(o.placed_at),
                "carrier": o.carrier,
                "tracking": o.tracking_number,
            }
            for o in orders
        ],
        feedback=[
            {"kind": f.kind, "score": f.score, "comment": f.comment, "at": as_utc(f.created_at)}
            for f in feedback
        ],
        conversations=conversations or 0,
    )
