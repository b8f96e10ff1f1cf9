"""crm.services.shop_traces: what the shop connection holds about a customer, and only that, goes on erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Customer, Notice, OutboxMessage, ShopEvent, ShopRequest, ShopRequestKind
from crm.services.shop_traces import forget_shop_traces
from tests.factories import make_customer, make_order


def with_traces(session: Session, external_id: str, number: str) -> Customer:
    """A customer with one order, and one of each trace the shop connection keeps about them."""
    customer = make_customer(session, external_id=external_id)
    order = make_order(session, customer=customer, number=number)
    session.add_all([
        ShopRequest(reference=f"REQ-{number}", kind=ShopRequestKind.cancel, order_id=order.id, customer_id=customer.id),
        OutboxMessage(event_id=f"evt-{number}", topic="request.created", customer_id=customer.id, payload={}),
        Notice(dedupe_key=f"shipped:{number}", customer_id=customer.id, order_id=order.id, kind="shipped"),
        ShopEvent(source="api", event_key=f"o-{number}", topic="orders/updated", subject=f"order:{number}"),
        ShopEvent(source="api", event_key=f"c-{number}", topic="customers/update", subject=f"customer:{external_id}"),
    ])  # fmt: skip
    session.flush()
    return customer


def counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (ShopRequest, OutboxMessage, Notice, ShopEvent)
    }


def test_every_trace_of_the_customer_and_their_orders_is_wiped_and_nobody_elses(session: Session) -> None:
    gone = with_traces(session, "T1", "8101")
    with_traces(session, "T2", "8102")
    statements: list[Any] = []

    def wipe(statement: Any) -> int:
        statements.append(statement)
        return session.execute(statement).rowcount  # type: ignore[attr-defined,no-any-return]

    forget_shop_traces(session, customer=gone, wipe=wipe)
    assert len(statements) == 4
    assert counts(session) == {"ShopRequest": 1, "OutboxMessage": 1, "Notice": 1, "ShopEvent": 2}
    assert sorted(session.scalars(select(ShopEvent.subject))) == ["customer:T2", "order:8102"]
    assert session.scalars(select(ShopRequest.reference)).all() == ["REQ-8102"]
