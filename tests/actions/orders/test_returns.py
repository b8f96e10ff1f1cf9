"""actions.orders.returns: returns and refunds, their status, and the request to the shop."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import NO_RETURNS, ActionConfirmRefund, ActionRefundStatus, ActionRequestRefund, on_day
from crm.clock import utcnow
from crm.models import OrderStatus, ReturnRequest, ReturnStatus, ShopRequest, ShopRequestKind
from crm.shop import load_shop_profile
from tests.actions.orders.support import order_for, order_tracker
from tests.actions.tracker_support import run_action, slot_events, texts
from tests.factories import make_return

pytestmark = pytest.mark.usefixtures("crm")


def test_a_recent_delivery_gets_a_return_offer(customer: Any, session: Session) -> None:
    order_for(
        session, customer, "81600", OrderStatus.delivered, delivered=5, lines=[("Blue Mug", 1, "14.00")],
    )
    events, messages = run_action(
        ActionRequestRefund(), order_tracker("request_refund", "i want my money back")
    )
    assert texts(messages).startswith("Shall I open a return for order #81600 (1 × Blue Mug, £14.00)?")
    assert slot_events(events)["awaiting"] == "refund_confirmation"


def test_yes_opens_a_return_with_a_reference(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81601", OrderStatus.delivered, delivered=5, total="24.00")
    tracker = order_tracker(
        "affirm", "yes", slots={"awaiting": "refund_confirmation", "order_in_question": "81601"}
    )
    events, messages = run_action(ActionConfirmRefund(), tracker)
    session.expire_all()
    [request] = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()
    assert request.reference.startswith("R-") and request.status == ReturnStatus.requested
    assert request.amount == Decimal("24.00")
    said = texts(messages)
    assert f"Your reference is {request.reference}." in said
    assert "we'll refund £24.00" in said
    assert slot_events(events)["resolved_request"] == "request_refund"


def test_a_refund_before_shipping_offers_a_cancellation(customer: Any, session: Session) -> None:
    order_for(session, customer, "81602", OrderStatus.paid)
    events, messages = run_action(
        ActionRequestRefund(), order_tracker("request_refund", order_number="81602")
    )
    assert texts(messages).startswith("Order #81602 hasn't shipped yet")
    assert slot_events(events)["awaiting"] == "cancel_confirmation"
    assert slot_events(events)["order_in_question"] == "81602"


def test_a_refund_outside_the_window_offers_a_person(customer: Any, session: Session) -> None:
    window = load_shop_profile().returns.window_days
    order_for(session, customer, "81603", OrderStatus.delivered, placed=window + 30, delivered=window + 5)
    events, messages = run_action(
        ActionRequestRefund(), order_tracker("request_refund", order_number="81603")
    )
    assert f"outside our {window}-day return window" in texts(messages)
    assert slot_events(events)["awaiting"] == "handoff_offer"
    assert slot_events(events)["handoff_reason"] == "refund_outside_window"


def test_a_second_return_for_the_same_order_is_not_opened(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81604", OrderStatus.delivered, delivered=3)
    make_return(session, order=order, reference="R-EXIST1")
    _, messages = run_action(ActionRequestRefund(), order_tracker("request_refund", order_number="81604"))
    assert texts(messages).startswith("There's already a return for order #81604: reference R-EXIST1")
    tracker = order_tracker(
        "affirm", "yes", slots={"awaiting": "refund_confirmation", "order_in_question": "81604"}
    )
    run_action(ActionConfirmRefund(), tracker)
    session.expire_all()
    assert (
        len(session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()) == 1
    )


def test_refund_status_lists_each_return(customer: Any, session: Session) -> None:
    first = order_for(session, customer, "81700", OrderStatus.returned, total="18.00")
    second = order_for(session, customer, "81701", OrderStatus.delivered, total="9.50")
    make_return(
        session,
        order=first,
        reference="R-DONE01",
        status=ReturnStatus.refunded,
        amount=Decimal("18.00"),
        created_at=utcnow() - timedelta(days=10),
    )
    refunded = session.scalars(select(ReturnRequest).where(ReturnRequest.reference == "R-DONE01")).one()
    refunded.refunded_at = utcnow() - timedelta(days=2)
    make_return(
        session, order=second, reference="R-WAIT02", status=ReturnStatus.received, created_at=utcnow()
    )
    session.flush()
    events, messages = run_action(ActionRefundStatus(), order_tracker("refund_status", "where is my refund"))
    said = texts(messages)
    assert f"• R-DONE01 for order #81700: refunded £18.00 {on_day(refunded.refunded_at)}" in said
    assert (
        "• R-WAIT02 for order #81701: we've received the items and your refund of £9.50 is on its way"
        in said
    )
    assert slot_events(events)["resolved_request"] == "refund_status"


def test_refund_status_without_returns(customer: Any) -> None:
    events, messages = run_action(ActionRefundStatus(), order_tracker("refund_status"))
    assert texts(messages) == NO_RETURNS
    assert "resolved_request" not in slot_events(events)


def test_refund_status_of_someone_elses_order_reveals_nothing(
    customer: Any, stranger: Any, session: Session
) -> None:
    theirs = order_for(session, stranger, "81702", OrderStatus.returned)
    make_return(session, order=theirs, reference="R-THEIRS")
    _, others = run_action(ActionRefundStatus(), order_tracker("refund_status", order_number="81702"))
    _, unknown = run_action(ActionRefundStatus(), order_tracker("refund_status", order_number="81703"))
    assert "R-THEIRS" not in texts(others)
    assert texts(others).replace("81702", "N") == texts(unknown).replace("81703", "N")


def test_the_return_is_passed_to_the_shop(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81611", OrderStatus.delivered, delivered=3)
    slots = {"awaiting": "refund_confirmation", "order_in_question": "81611"}
    tracker = order_tracker("affirm", "yes", slots=slots)
    _, messages = run_action(ActionConfirmRefund(), tracker)
    session.expire_all()
    [request] = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).all()
    [opened] = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()
    assert request.kind == ShopRequestKind.return_ and request.detail == {"return_reference": opened.reference}
    assert "I'll tell you here as soon as they confirm it." in texts(messages)
