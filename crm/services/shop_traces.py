"""What the shop connection holds about one customer, removed when they are erased."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm.models import Customer, Notice, Order, OutboxMessage, ShopEvent, ShopRequest


def forget_shop_traces(session: Session, *, customer: Customer, wipe: Callable[[object], int]) -> None:
    """Their requests, the webhooks carrying them, the order notices for them, and the
    platform events about them or their orders."""
    numbers = session.scalars(select(Order.number).where(Order.customer_id == customer.id)).all()
    subjects = [f"customer:{customer.external_id}"] + [f"order:{n}" for n in numbers]
    wipe(delete(ShopRequest).where(ShopRequest.customer_id == customer.id))
    wipe(delete(OutboxMessage).where(OutboxMessage.customer_id == customer.id))
    wipe(delete(Notice).where(Notice.customer_id == customer.id))
    wipe(delete(ShopEvent).where(ShopEvent.subject.in_(subjects)))
