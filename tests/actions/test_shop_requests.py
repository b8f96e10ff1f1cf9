"""actions.shop_requests: what the bot used to change itself now leaves as a request to the shop."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from actions.shop_requests import already_asked, ask_shop, waiting_for_shop
from crm.models import Order, OrderStatus, ShopRequestKind, ShopRequestStatus
from tests.actions.tracker_support import make_tracker
from tests.factories import make_conversation, make_customer, make_order


@pytest.fixture
def order(session: Session) -> Order:
    customer = make_customer(session, external_id="SR1")
    return make_order(session, customer=customer, number="82001", status=OrderStatus.paid)


def test_a_request_remembers_the_conversation_to_answer_in(session: Session, order: Order) -> None:
    make_conversation(session, conversation_id="conv-sr")
    request = ask_shop(
        session, make_tracker(sender_id="conv-sr"), order=order, kind=ShopRequestKind.change_address,
        actor="customer:SR1", detail={"address": "12 Mill Lane"},
    )  # fmt: skip
    assert (request.kind, request.status, request.order_id, request.customer_id) == (
        ShopRequestKind.change_address, ShopRequestStatus.requested, order.id, order.customer_id)
    assert (request.conversation_id, request.detail) == ("conv-sr", {"address": "12 Mill Lane"})


def test_without_a_gateway_conversation_the_request_has_none(session: Session, order: Order) -> None:
    # `rasa shell`: the sender id names no conversation in the CRM.
    tracker = make_tracker(sender_id="shell-user")
    request = ask_shop(session, tracker, order=order, kind=ShopRequestKind.cancel, actor="x")
    assert request.conversation_id is None


def test_an_open_request_is_named_once_per_kind_and_not_after_it_is_settled(session: Session, order: Order) -> None:
    assert waiting_for_shop(session, order) == "" and already_asked(session, order, ShopRequestKind.cancel) is None
    cancel = ask_shop(session, make_tracker(), order=order, kind=ShopRequestKind.cancel, actor="x")
    ask_shop(session, make_tracker(), order=order, kind=ShopRequestKind.return_, actor="x")
    assert already_asked(session, order, ShopRequestKind.cancel) == (
        "I've already asked the team to cancel order #82001; I'll tell you here as soon as they answer.")
    assert already_asked(session, order, ShopRequestKind.change_address) is None
    assert waiting_for_shop(session, order) == (
        " I've already asked the team to cancel order #82001; I'll tell you here as soon as they answer."
        " I've already asked the team to accept the return of order #82001; I'll tell you here as soon as they answer."
    )
    cancel.status = ShopRequestStatus.refused
    session.flush()
    assert already_asked(session, order, ShopRequestKind.cancel) is None
    assert waiting_for_shop(session, order).count("I've already asked") == 1
