"""crm.services.orders: proving, finding, changing and returning orders."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import AuditEntry, OrderStatus, Product, ReturnRequest, ReturnStatus
from crm.services import (
    can_change,
    can_return,
    cancel_order,
    change_shipping_address,
    get_order_by_number,
    get_order_for_customer,
    invoice_summary,
    latest_open_order,
    recent_orders,
    request_return,
    returns_for_customer,
    verify_order_email,
)
from tests.factories import make_customer, make_order, make_product, make_return


class TestVerifyOrderEmail:
    def test_matching_email_returns_the_customer(self, session: Session) -> None:
        customer = make_customer(session, email="amy@example.com")
        make_order(session, customer=customer, number="51043")
        assert verify_order_email(session, order_number="51043", email="amy@example.com") is customer
        assert verify_order_email(session, order_number="#051043", email="  AMY@Example.COM ") is customer

    def test_wrong_email_unknown_order_and_nonsense_look_the_same(self, session: Session) -> None:
        customer = make_customer(session, email="amy2@example.com")
        make_customer(session, email="other@example.com")
        make_order(session, customer=customer, number="51044")
        answers = [
            verify_order_email(session, order_number="51044", email="other@example.com"),
            verify_order_email(session, order_number="59999", email="amy2@example.com"),
            verify_order_email(session, order_number="hello", email="amy2@example.com"),
            verify_order_email(session, order_number="51044", email="not-an-email"),
            verify_order_email(session, order_number="", email=""),
        ]
        assert answers == [None] * 5

    def test_customer_without_email_can_never_verify(self, session: Session) -> None:
        customer = make_customer(session, email=None)
        make_order(session, customer=customer, number="51045")
        assert verify_order_email(session, order_number="51045", email="none@example.com") is None


def test_get_order_for_customer_hides_other_peoples_orders(session: Session) -> None:
    mine, theirs = make_customer(session), make_customer(session)
    order = make_order(session, customer=mine, number="52001")
    make_order(session, customer=theirs, number="52002")
    assert get_order_for_customer(session, customer=mine, order_number="order #52001") is order
    assert get_order_for_customer(session, customer=mine, order_number="52002") is None
    assert get_order_for_customer(session, customer=mine, order_number="52003") is None
    assert get_order_for_customer(session, customer=mine, order_number="rubbish") is None
    assert get_order_by_number(session, order_number="#52002").customer_id == theirs.id  # type: ignore[union-attr]
    assert get_order_by_number(session, order_number="nope") is None


def test_latest_open_order_is_the_newest_still_on_its_way(session: Session) -> None:
    customer = make_customer(session)
    assert latest_open_order(session, customer=customer) is None
    now = utcnow()
    make_order(session, customer=customer, status="shipped", placed_at=now - timedelta(days=9))
    newest_open = make_order(session, customer=customer, status="paid", placed_at=now - timedelta(days=5))
    make_order(session, customer=customer, status="delivered", placed_at=now - timedelta(days=2))
    make_order(session, customer=customer, status="cancelled", placed_at=now - timedelta(days=1))
    make_order(session, customer=make_customer(session), status="placed", placed_at=now)
    assert latest_open_order(session, customer=customer) is newest_open


def test_recent_orders_newest_first_with_limit(session: Session) -> None:
    customer = make_customer(session)
    now = utcnow()
    orders = [make_order(session, customer=customer, placed_at=now - timedelta(days=d)) for d in (30, 10, 20, 40, 5, 50)]
    assert recent_orders(session, customer=customer) == [orders[i] for i in (4, 1, 2, 0, 3)]
    assert recent_orders(session, customer=customer, limit=2) == [orders[4], orders[1]]
    assert recent_orders(session, customer=make_customer(session)) == []


@pytest.mark.parametrize(
    ("status", "allowed"),
    [("placed", True), ("paid", True), ("shipped", False), ("delivered", False), ("cancelled", False), ("returned", False)],
)
def test_can_change_only_before_shipping(session: Session, status: str, allowed: bool) -> None:
    assert can_change(make_order(session, customer=make_customer(session), status=status)) is allowed


def test_cancel_order(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status="paid", number="53001")
    assert cancel_order(session, order=order, actor="customer:T1") is order
    assert order.status == OrderStatus.cancelled
    assert abs(as_utc(order.cancelled_at) - utcnow()) < timedelta(minutes=1)  # type: ignore[arg-type]
    session.flush()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:53001")).one()
    assert (entry.actor, entry.action) == ("customer:T1", "order.cancel")


def test_cancel_refuses_a_shipped_order_and_changes_nothing(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status="shipped", number="53002")
    with pytest.raises(ValueError, match="53002"):
        cancel_order(session, order=order, actor="customer:T1")
    assert order.status == OrderStatus.shipped and order.cancelled_at is None
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.subject == "order:53002")) == 0


def test_change_shipping_address(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status="placed", number="53003")
    change_shipping_address(session, order=order, address="  1 New Street \n\n  Bristol BS1 1AA ", actor="customer:T2")
    assert order.shipping_address == "1 New Street\nBristol BS1 1AA"
    session.flush()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:53003")).one()
    assert entry.action == "order.change_address"
    assert "New Street" not in str(entry.detail)


@pytest.mark.parametrize("address", ["", "   \n  ", "x" * 1001])
def test_change_shipping_address_refuses_empty_or_huge(session: Session, address: str) -> None:
    order = make_order(session, customer=make_customer(session), status="paid", shipping_address="Old")
    with pytest.raises(ValueError):
        change_shipping_address(session, order=order, address=address, actor="customer:T2")
    assert order.shipping_address == "Old"


def test_change_shipping_address_refuses_after_shipping(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status="shipped", shipping_address="Old")
    with pytest.raises(ValueError):
        change_shipping_address(session, order=order, address="1 New Street", actor="customer:T2")
    assert order.shipping_address == "Old"


class TestCanReturn:
    def test_within_the_window_of_delivery(self, session: Session) -> None:
        now = utcnow()
        order = make_order(session, customer=make_customer(session), status="delivered", placed_at=now - timedelta(days=40), delivered_at=now - timedelta(days=30))
        assert can_return(order, now=now) is True  # 30 days in shop.yml: the last day still counts
        assert can_return(order, now=now + timedelta(days=1)) is False

    def test_window_can_be_given(self, session: Session) -> None:
        now = utcnow()
        order = make_order(session, customer=make_customer(session), status="delivered", delivered_at=now - timedelta(days=10))
        assert can_return(order, now=now, window_days=14) is True
        assert can_return(order, now=now, window_days=7) is False

    def test_shipped_but_not_delivered_yet(self, session: Session) -> None:
        order = make_order(session, customer=make_customer(session), status="shipped")
        assert can_return(order) is True

    @pytest.mark.parametrize("status", ["placed", "paid", "cancelled", "returned"])
    def test_not_for_other_statuses(self, session: Session, status: str) -> None:
        assert can_return(make_order(session, customer=make_customer(session), status=status)) is False

    def test_not_twice_unless_the_first_was_rejected(self, session: Session) -> None:
        order = make_order(session, customer=make_customer(session), status="delivered")
        request = make_return(session, order=order)
        assert can_return(order) is False
        request.status = ReturnStatus.rejected
        assert can_return(order) is True


class TestRequestReturn:
    def test_creates_a_request_with_an_unguessable_reference(self, session: Session) -> None:
        customer = make_customer(session)
        order = make_order(session, customer=customer, status="delivered", number="54001", lines=[("Vase", 2, "17.25")])
        request = request_return(session, order=order, reason="  Too big  ", actor="customer:T3")
        assert re.fullmatch(r"R-[A-HJ-NP-Z2-9]{6}", request.reference)
        assert request.amount == Decimal("34.50") == order.total
        assert request.status == ReturnStatus.requested and request.reason == "Too big"
        assert request.order_id == order.id
        entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:54001")).one()
        assert entry.action == "order.return_request" and entry.detail == {"reference": request.reference}

    def test_references_are_unique(self, session: Session) -> None:
        customer = make_customer(session)
        references = {
            request_return(session, order=make_order(session, customer=customer), reason="", actor="t").reference
            for _ in range(20)
        }
        assert len(references) == 20

    def test_refused_outside_the_rules(self, session: Session) -> None:
        customer = make_customer(session)
        old = make_order(session, customer=customer, status="delivered", delivered_at=utcnow() - timedelta(days=31))
        unpaid = make_order(session, customer=customer, status="paid")
        for order in (old, unpaid):
            with pytest.raises(ValueError):
                request_return(session, order=order, reason="", actor="t")
        assert session.scalar(select(func.count(ReturnRequest.id)).where(ReturnRequest.order_id.in_([old.id, unpaid.id]))) == 0


def test_returns_for_customer_newest_first(session: Session) -> None:
    customer = make_customer(session)
    now = utcnow()
    older = make_return(session, order=make_order(session, customer=customer), created_at=now - timedelta(days=5))
    newer = make_return(session, order=make_order(session, customer=customer), created_at=now - timedelta(days=1))
    make_return(session, order=make_order(session, customer=make_customer(session)))
    assert returns_for_customer(session, customer=customer) == [newer, older]
    assert returns_for_customer(session, customer=make_customer(session)) == []


def test_invoice_summary(session: Session) -> None:
    make_product(session, name="Mystery Box", price=None)
    order = make_order(
        session,
        customer=make_customer(session),
        number="55001",
        status="shipped",
        # 23:30 UTC in July is already the next day in London.
        placed_at=datetime(2026, 7, 14, 23, 30, tzinfo=timezone.utc),
        lines=[("Blue Mug", 2, "14.00"), ("Mystery Box", 1)],
        total="40.00",
        carrier="DPD",
        tracking_number="15501234567890",
    )
    summary = invoice_summary(order)
    assert summary == {
        "number": "55001",
        "date": "2026-07-15",
        "status": "shipped",
        "lines": [
            {"quantity": 2, "name": "Blue Mug", "unit_price": "14.00", "line_total": "28.00"},
            {"quantity": 1, "name": "Mystery Box", "unit_price": None, "line_total": None},
        ],
        "total": "40.00",
        "currency": "GBP",
        "carrier": "DPD",
        "tracking_number": "15501234567890",
    }
    assert invoice_summary(order, tz=ZoneInfo("UTC"))["date"] == "2026-07-14"
    assert session.scalar(select(Product.price).where(Product.name == "Mystery Box")) is None
