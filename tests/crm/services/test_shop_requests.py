"""crm.services.shop_requests: requested → accepted / refused, by hand or by the platform."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import (
    OrderStatus,
    OutboxMessage,
    ReturnStatus,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.services.shop_requests import RequestClosed, create_request, outcome_text, settle
from crm.services.shop_sync import IncomingEvent, OrderUpdate, receive
from tests.factories import make_customer, make_order, make_return

T = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _order(session: Session, status: OrderStatus = OrderStatus.paid):  # type: ignore[no-untyped-def]
    order = make_order(session, customer=make_customer(session), number="1044", status=status)
    order.platform_id = "test:1044"
    return order


def _update(session: Session, key: str, **fields: object):  # type: ignore[no-untyped-def]
    return receive(session, event=IncomingEvent("api", key, "t", {}), update=OrderUpdate(platform_id="test:1044", **fields))


def test_a_request_is_queued_for_the_shop_once(session: Session) -> None:
    order = _order(session)
    first = create_request(session, order=order, kind=ShopRequestKind.cancel, actor="customer:x")
    again = create_request(session, order=order, kind=ShopRequestKind.cancel, actor="customer:x")
    assert first is again and first.status == ShopRequestStatus.requested
    [message] = session.scalars(select(OutboxMessage)).all()
    assert message.payload["reference"] == first.reference and message.payload["order"]["number"] == "1044"


def test_refusing_needs_a_reason_and_settling_twice_is_refused(session: Session) -> None:
    request = create_request(session, order=_order(session), kind=ShopRequestKind.cancel, actor="customer:x")
    with pytest.raises(ValueError, match="reason"):
        settle(session, request=request, accepted=False, actor="staff:1", reason="  ")
    settle(session, request=request, accepted=False, actor="staff:1", reason="already packed")
    # The shop's system hears that staff answered it, with the reason.
    settled = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "request.settled")).one()
    assert (settled.payload["status"], settled.payload["reason"]) == ("refused", "already packed")
    assert outcome_text(request) == "Sorry: the team couldn't cancel order #1044. Their reason: already packed"
    with pytest.raises(RequestClosed):
        settle(session, request=request, accepted=True, actor="staff:1")
    assert request.order.status == OrderStatus.paid


def test_a_new_address_from_the_platform_settles_the_address_request(session: Session) -> None:
    order = _order(session)
    request = create_request(session, order=order, kind=ShopRequestKind.change_address, actor="customer:x",
                             detail={"address": "12 Mill Lane, Bristol BS1 4AB"})
    assert _update(session, "a", updated_at=T, shipping_address="14 Mill Lane, Bristol BS1 4AB").settled == []
    assert request.status == ShopRequestStatus.requested  # another address is not the one asked for
    result = _update(session, "b", updated_at=T, shipping_address="12 mill lane, bristol, BS1 4AB")
    assert result.settled == [request.id] and request.status == ShopRequestStatus.accepted


def test_shipping_first_refuses_a_cancel_request_with_the_reason(session: Session) -> None:
    order = _order(session)
    request = create_request(session, order=order, kind=ShopRequestKind.cancel, actor="customer:x")
    _update(session, "s", updated_at=T, status=OrderStatus.shipped)
    assert (request.status, request.reason) == (ShopRequestStatus.refused, "the parcel had already left us")


def test_a_refund_accepts_the_return_and_a_refusal_rejects_it(session: Session) -> None:
    order = _order(session, OrderStatus.delivered)
    opened = make_return(session, order=order)
    request = create_request(session, order=order, kind=ShopRequestKind.return_, actor="customer:x",
                             detail={"return_reference": opened.reference})
    _update(session, "r", updated_at=T, refunded=True, forward_only=True)
    assert request.status == ShopRequestStatus.accepted and opened.status == ReturnStatus.refunded

    other = make_order(session, customer=order.customer, number="1045", status=OrderStatus.delivered)
    second = make_return(session, order=other)
    refused = create_request(session, order=other, kind=ShopRequestKind.return_, actor="customer:x",
                             detail={"return_reference": second.reference})
    settle(session, request=refused, accepted=False, actor="staff:1", reason="worn")
    assert second.status == ReturnStatus.rejected


def test_erasing_the_customer_erases_their_requests_webhooks_and_events(session: Session) -> None:
    from crm.models import Customer, ShopEvent, ShopRequest
    from crm.services.customers import erase_customer

    order = _order(session)
    create_request(session, order=order, kind=ShopRequestKind.change_address, actor="customer:x",
                   detail={"address": "12 Mill Lane, Bristol BS1 4AB"})
    _update(session, "ev", updated_at=T, carrier="DPD")
    bystander = make_order(session, customer=make_customer(session), number="2000", status=OrderStatus.paid)
    create_request(session, order=bystander, kind=ShopRequestKind.cancel, actor="customer:y")
    erase_customer(session, customer=order.customer, actor="customer:x")
    session.flush()
    assert [r.order.number for r in session.scalars(select(ShopRequest))] == ["2000"]
    assert [m.payload["order"]["number"] for m in session.scalars(select(OutboxMessage))] == ["2000"]
    assert session.scalars(select(ShopEvent)).all() == []
    assert session.scalars(select(Customer.id)).all() == [bystander.customer_id]
