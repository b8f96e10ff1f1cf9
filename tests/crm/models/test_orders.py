"""crm.models.orders: order numbers and product names are unique; lines and returns belong to their order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.models import Order, OrderLine, OrderStatus, Product, ReturnRequest, ReturnStatus
from tests.factories import make_customer, make_order, make_product, make_return


def test_order_numbers_product_names_and_return_references_are_unique(
    session: Session, refused: Callable[..., None]
) -> None:
    order = make_order(session, customer=make_customer(session), number="9301")
    make_product(session, name="Oak Board")
    make_return(session, order=order, reference="R-AAAA")
    refused(Order(number="9301", customer_id=order.customer_id, placed_at=order.placed_at,
                  status=OrderStatus.paid, total=Decimal("1")))  # fmt: skip
    refused(Product(name="Oak Board"))
    refused(ReturnRequest(reference="R-AAAA", order_id=order.id, amount=Decimal("1")))


def test_a_status_is_stored_as_its_plain_value(session: Session, stored: Callable[[str], Any]) -> None:
    make_order(session, customer=make_customer(session), number="9302", status=OrderStatus.returned)
    assert stored("SELECT status FROM orders WHERE number = '9302'") == "returned"


def test_lines_read_in_the_order_they_were_added_and_go_with_their_order(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), number="9303", lines=[("Tea", 1), ("Blue Mug", 2)])
    make_return(session, order=order)
    session.expire(order, ["lines"])
    assert [(l.product.name, l.quantity) for l in order.lines] == [("Tea", 1), ("Blue Mug", 2)]
    session.delete(order)
    session.flush()
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 0
    assert session.scalar(select(func.count()).select_from(ReturnRequest)) == 0
    assert session.scalar(select(func.count()).select_from(Product)) == 2  # products outlive orders


def test_the_database_itself_removes_a_deleted_orders_lines(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), number="9304", lines=[("Tea", 1)])
    session.execute(delete(Order).where(Order.id == order.id))  # not through the ORM's cascade
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 0


def test_a_new_return_is_requested(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), number="9305")
    request = ReturnRequest(reference="R-NEW1", order=order, amount=Decimal("5.00"))
    session.add(request)
    session.flush()
    assert (request.status, request.reason, request.refunded_at) == (ReturnStatus.requested, "", None)
