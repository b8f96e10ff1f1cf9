"""crm.models.shop: a platform event is claimed once; requests keep their order and outlive the conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from crm.models import ApiKey, Conversation, ShopEvent, ShopRequest, ShopRequestKind, ShopRequestStatus
from tests.factories import make_conversation, make_customer, make_order


def test_a_redelivered_event_or_a_reused_key_is_refused(session: Session, refused: Callable[..., None]) -> None:
    session.add_all([
        ShopEvent(source="shopify", event_key="wh-1", topic="orders/updated"),
        ApiKey(name="Shop", key_hash="a" * 64, prefix="jo_abcdefg"),
    ])  # fmt: skip
    session.flush()
    refused(ShopEvent(source="shopify", event_key="wh-1", topic="orders/updated"))
    refused(ApiKey(name="Copy", key_hash="a" * 64, prefix="jo_abcdefg"))
    session.add(ShopEvent(source="api", event_key="wh-1", topic="orders/updated"))  # another source's key
    session.flush()


def test_a_new_request_is_requested_and_its_kind_is_stored_by_value(
    session: Session, stored: Callable[[str], Any]
) -> None:
    order = make_order(session, customer=make_customer(session), number="9501")
    request = ShopRequest(reference="REQ-1", kind=ShopRequestKind.return_, order_id=order.id)
    event = ShopEvent(source="api", event_key="e-1", topic="orders/create")
    session.add_all([request, event])
    session.flush()
    assert (request.status, request.detail, request.settled_at) == (ShopRequestStatus.requested, {}, None)
    assert stored("SELECT kind FROM shop_requests") == "return"
    assert (event.subject, event.outcome, event.payload) == ("", "received", None)


def test_a_request_outlives_its_conversation(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), number="9502")
    make_conversation(session, conversation_id="c-req")
    request = ShopRequest(reference="REQ-2", kind=ShopRequestKind.cancel, order_id=order.id, conversation_id="c-req")
    session.add(request)
    session.flush()
    session.execute(delete(Conversation).where(Conversation.id == "c-req"))
    session.expire_all()
    assert session.get_one(ShopRequest, request.id).conversation_id is None
