"""crm.services.shop_sync: applying platform updates once, in order, whole."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import AuditEntry, Customer, Order, OrderStatus, Product, ReturnStatus, ShopEvent
from crm.services.customers import erase_customer
from crm.services.shop_sync import (
    CustomerUpdate,
    IncomingEvent,
    LineUpdate,
    OrderUpdate,
    UpdateRefused,
    purge_events,
    receive,
)
from tests.factories import make_customer, make_order, make_return

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)


def _event(key: str, payload: dict | None = None, source: str = "api") -> IncomingEvent:
    return IncomingEvent(source=source, key=key, topic="order.put", payload=payload or {"k": key})


def _new_order(number: str = "5001", *, at: datetime = T0, **overrides: object) -> OrderUpdate:
    values: dict = dict(
        number=number,
        platform_id=f"test:{number}",
        updated_at=at,
        status=OrderStatus.paid,
        customer=CustomerUpdate(external_id="P-77", email="pat@example.com", first_name="Pat", last_name="Lee"),
        placed_at=at,
        total=Decimal("42.00"),
        currency="GBP",
        lines=(LineUpdate("Brand-new mug", 2, Decimal("21.00")),),
    )
    values.update(overrides)
    return OrderUpdate(**values)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_new_order_creates_its_customer_and_products_on_the_fly(session: Session) -> None:
    result = receive(session, event=_event("e1"), update=_new_order())
    assert result.outcome == "applied"
    order = session.scalars(select(Order).where(Order.number == "5001")).one()
    assert order.customer.external_id == "P-77" and order.customer.email == "pat@example.com"
    assert [(l.product.name, l.quantity) for l in order.lines] == [("Brand-new mug", 2)]
    assert session.scalars(select(Product).where(Product.name == "Brand-new mug")).one().price == Decimal("21.00")
    assert order.status == OrderStatus.paid


def test_a_redelivered_event_changes_nothing_the_second_time(session: Session) -> None:
    assert receive(session, event=_event("same"), update=_new_order()).outcome == "applied"
    shipped = OrderUpdate(number="5001", updated_at=T0 + timedelta(hours=1), status=OrderStatus.shipped)
    assert receive(session, event=_event("ship"), update=shipped).outcome == "applied"
    # The first event again, as a platform retry: it would roll the order back to "paid".
    assert receive(session, event=_event("same"), update=_new_order()).outcome == "duplicate"
    order = session.scalars(select(Order).where(Order.number == "5001")).one()
    assert order.status == OrderStatus.shipped
    assert _count(session, ShopEvent) == 2


def test_an_older_update_arriving_late_never_rolls_the_status_back(session: Session) -> None:
    receive(session, event=_event("a"), update=_new_order())
    newer = OrderUpdate(number="5001", updated_at=T0 + timedelta(hours=2), status=OrderStatus.shipped,
                        carrier="DPD", tracking_number="TRK1")
    older = OrderUpdate(number="5001", updated_at=T0 + timedelta(hours=1), status=OrderStatus.paid)
    assert receive(session, event=_event("b"), update=newer).outcome == "applied"
    assert receive(session, event=_event("c"), update=older).outcome == "stale"
    order = session.scalars(select(Order).where(Order.number == "5001")).one()
    assert (order.status, order.tracking_number) == (OrderStatus.shipped, "TRK1")
    assert session.scalars(select(ShopEvent.outcome).where(ShopEvent.event_key == "c")).one() == "stale"


def test_a_fulfilment_fact_only_moves_the_status_forward(session: Session) -> None:
    receive(session, event=_event("a"), update=_new_order())
    delivered = OrderUpdate(number="5001", updated_at=T0 + timedelta(days=2), status=OrderStatus.delivered)
    receive(session, event=_event("b"), update=delivered)
    late_fulfilment = OrderUpdate(platform_id="test:5001", updated_at=T0 + timedelta(days=1),
                                  status=OrderStatus.shipped, tracking_number="TRK9", forward_only=True)
    assert receive(session, event=_event("c"), update=late_fulfilment).outcome == "applied"
    order = session.scalars(select(Order).where(Order.number == "5001")).one()
    assert order.status == OrderStatus.delivered
    assert order.tracking_number == "TRK9"


def test_a_refund_settles_the_open_return(session: Session) -> None:
    customer = make_customer(session)
    order = make_order(session, customer=customer, number="5100", status=OrderStatus.delivered)
    order.platform_id = "test:5100"
    request = make_return(session, order=order)
    refund = OrderUpdate(platform_id="test:5100", updated_at=T0, refunded=True, forward_only=True)
    assert receive(session, event=_event("r"), update=refund).outcome == "applied"
    assert request.status == ReturnStatus.refunded and request.refunded_at is not None


def test_an_update_for_an_erased_customer_is_refused_and_keeps_no_data(session: Session) -> None:
    customer = make_customer(session, external_id="GONE-1")
    erase_customer(session, customer=customer, actor="customer:GONE-1")
    update = _new_order(customer=CustomerUpdate(external_id="GONE-1", email="gone@example.com", first_name="Gone"))
    result = receive(session, event=_event("x", {"email": "gone@example.com"}), update=update)
    assert result.outcome == "erased"
    assert _count(session, Order) == 0
    assert session.scalars(select(Customer).where(Customer.external_id == "GONE-1")).first() is None
    row = session.scalars(select(ShopEvent).where(ShopEvent.event_key == "x")).one()
    assert row.payload is None and row.outcome == "erased"
    refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "shop.update_refused_erased")).one()
    assert "gone@example.com" not in repr(refused.detail) + refused.subject


def test_a_customer_update_respects_the_platform_clock(session: Session) -> None:
    first = CustomerUpdate(external_id="P-9", updated_at=T0, email="p9@example.com", first_name="Al", last_name="One")
    later = CustomerUpdate(external_id="P-9", updated_at=T0 + timedelta(hours=1), last_name="Two")
    earlier = CustomerUpdate(external_id="P-9", updated_at=T0 - timedelta(hours=1), last_name="Zero")
    assert receive(session, event=_event("c1"), update=first).outcome == "applied"
    assert receive(session, event=_event("c2"), update=later).outcome == "applied"
    assert receive(session, event=_event("c3"), update=earlier).outcome == "stale"
    assert session.scalars(select(Customer).where(Customer.external_id == "P-9")).one().last_name == "Two"


def test_a_new_order_without_its_basics_is_refused_with_the_reason(session: Session) -> None:
    with pytest.raises(UpdateRefused, match="needs a customer, placed_at and total"):
        receive(session, event=_event("n"), update=OrderUpdate(number="6000", updated_at=T0))


def test_a_fulfilment_for_an_unknown_order_changes_nothing(session: Session) -> None:
    update = OrderUpdate(platform_id="test:404", updated_at=T0, status=OrderStatus.shipped, forward_only=True)
    assert receive(session, event=_event("u"), update=update).outcome == "unknown_order"
    assert _count(session, Order) == 0


def test_events_older_than_thirty_days_are_purged(session: Session) -> None:
    receive(session, event=_event("old"), update=None)
    receive(session, event=_event("new"), update=None)
    old = session.scalars(select(ShopEvent).where(ShopEvent.event_key == "old")).one()
    old.received_at = datetime.now(timezone.utc) - timedelta(days=31)
    session.flush()
    assert purge_events(session) == 1
    assert session.scalars(select(ShopEvent.event_key)).all() == ["new"]
