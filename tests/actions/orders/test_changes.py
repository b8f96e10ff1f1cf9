"""actions.orders.changes: cancelling (after an explicit yes) and changing items, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import (
    ANYTHING_ELSE,
    CANNOT_CANCEL_SHIPPED,
    LOST_TRACK,
    ORDER_NOT_FOUND,
    ActionCancelOrder,
    ActionChangeOrder,
    ActionConfirmCancel,
    ActionKeepOrder,
)
from crm.models import (
    AuditEntry,
    OrderStatus,
    OutboxMessage,
    ShopRequest,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.shop import load_shop_profile
from tests.actions.orders.support import order_for, order_tracker, reloaded
from tests.actions.tracker_support import run_action, slot_events, texts

pytestmark = pytest.mark.usefixtures("crm")


def test_cancel_asks_for_an_explicit_yes_first(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81300", OrderStatus.paid, lines=[("Blue Mug", 1, "14.00")])
    events, messages = run_action(ActionCancelOrder(), order_tracker("cancel_order", "cancel my order"))
    assert (
        texts(messages)
        == "Shall I cancel order #81300 (1 × Blue Mug, £14.00)? You'll get a full refund to the way you paid."
    )
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events) == {
        "awaiting": "cancel_confirmation",
        "order_in_question": "81300",
        "order_number": "81300",
    }
    assert reloaded(session, order).status == OrderStatus.paid


def test_yes_cancels_and_records_it(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81301", OrderStatus.paid, total="36.00")
    tracker = order_tracker(
        "affirm", "yes", slots={"awaiting": "cancel_confirmation", "order_in_question": "81301"}
    )
    events, messages = run_action(ActionConfirmCancel(), tracker)
    days = load_shop_profile().returns.refund_business_days
    assert texts(messages) == (
        "I've asked the team to cancel order #81301; I'll tell you here as soon as it's confirmed. "
        f"Once it's cancelled, you'll get £36.00 back to the way you paid within {days} working days.\n"
        + ANYTHING_ELSE
    )
    # Not a silent edit: the order stays as it is until the shop has cancelled it.
    assert reloaded(session, order).status == OrderStatus.paid
    request = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).one()
    assert (request.kind, request.status) == (ShopRequestKind.cancel, ShopRequestStatus.requested)
    outbox = session.scalars(select(OutboxMessage)).one()
    assert outbox.payload["reference"] == request.reference and outbox.payload["kind"] == "cancel"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:81301")).one()
    assert (entry.action, entry.actor) == ("request.cancel", "customer:CV1")
    assert slot_events(events)["resolved_request"] == "cancel_order"
    assert slot_events(events)["awaiting"] is None


def test_yes_without_an_open_question_cancels_nothing(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81302", OrderStatus.paid)
    tracker = order_tracker("affirm", "yes", slots={"order_number": "81302"})
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert texts(messages) == LOST_TRACK
    assert reloaded(session, order).status == OrderStatus.paid


def test_a_shipped_order_cannot_be_cancelled(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81303", OrderStatus.shipped)
    events, messages = run_action(ActionCancelOrder(), order_tracker("cancel_order", order_number="81303"))
    days = load_shop_profile().returns.window_days
    assert texts(messages) == CANNOT_CANCEL_SHIPPED.format(number="81303", days=days)
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/request_refund{"order_number": "81303"}',
        "/request_human",
    ]
    assert slot_events(events)["awaiting"] is None
    assert reloaded(session, order).status == OrderStatus.shipped


def test_an_order_that_shipped_after_the_question_is_not_cancelled(
    customer: Any, session: Session
) -> None:
    order = order_for(session, customer, "81304", OrderStatus.shipped)
    tracker = order_tracker(
        "affirm", "yes", slots={"awaiting": "cancel_confirmation", "order_in_question": "81304"}
    )
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert "has already shipped" in texts(messages)
    assert reloaded(session, order).status == OrderStatus.shipped


def test_yes_cannot_cancel_someone_elses_order(customer: Any, stranger: Any, session: Session) -> None:
    order = order_for(session, stranger, "81305", OrderStatus.paid)
    tracker = order_tracker(
        "affirm", "yes", slots={"awaiting": "cancel_confirmation", "order_in_question": "81305"}
    )
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert texts(messages) == ORDER_NOT_FOUND.format(number="81305")
    assert reloaded(session, order).status == OrderStatus.paid


def test_no_keeps_the_order(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81306", OrderStatus.paid)
    tracker = order_tracker(
        "deny", "no", slots={"awaiting": "cancel_confirmation", "order_in_question": "81306"}
    )
    events, messages = run_action(ActionKeepOrder(), tracker)
    assert texts(messages).startswith(
        "Okay — I haven't cancelled anything; order #81306 stays as it is."
    )
    assert slot_events(events)["awaiting"] is None and slot_events(events)["order_in_question"] is None
    assert reloaded(session, order).status == OrderStatus.paid


def test_changing_items_before_shipping_offers_a_person(customer: Any, session: Session) -> None:
    order_for(session, customer, "81400", OrderStatus.paid)
    events, messages = run_action(
        ActionChangeOrder(), order_tracker("change_order", "i want to swap an item")
    )
    assert "I can't change the items on an order myself" in texts(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events)["awaiting"] == "handoff_offer"
    assert slot_events(events)["handoff_reason"] == "change_order"


def test_changing_items_after_shipping_explains_and_offers_a_return(
    customer: Any, session: Session
) -> None:
    order_for(session, customer, "81401", OrderStatus.shipped)
    events, messages = run_action(ActionChangeOrder(), order_tracker("change_order", order_number="81401"))
    assert texts(messages).startswith("Order #81401 has already shipped, so its items can't be changed")
    assert [b["title"] for b in messages[0]["buttons"]] == ["Start a return", "Talk to a person"]
    assert slot_events(events)["awaiting"] is None


def test_no_to_the_person_clears_the_handoff_reason(customer: Any) -> None:
    tracker = order_tracker(
        "deny", "no thanks", slots={"awaiting": "handoff_offer", "handoff_reason": "change_order"}
    )
    events, messages = run_action(ActionKeepOrder(), tracker)
    assert slot_events(events)["handoff_reason"] is None
    assert texts(messages) == "No problem.\n" + ANYTHING_ELSE


def test_cancel_it_in_answer_to_the_question_is_a_yes(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81307", OrderStatus.paid)
    question = [
        {"event": "action", "name": "action_cancel_order"},
        {"event": "bot", "text": "Shall I cancel order #81307 ...?"},
        {"event": "action", "name": "action_listen"},
    ]
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81307", "order_number": "81307"}
    tracker = order_tracker("cancel_order", "yes cancel it", slots=slots, history=question)
    events, messages = run_action(ActionCancelOrder(), tracker)
    assert texts(messages).startswith("I've asked the team to cancel order #81307;")
    assert session.scalars(select(ShopRequest.kind).where(ShopRequest.order_id == order.id)).one() == (
        ShopRequestKind.cancel
    )
    assert slot_events(events)["resolved_request"] == "cancel_order"


def test_cancel_later_in_the_conversation_asks_again(customer: Any, session: Session) -> None:
    order = order_for(session, customer, "81308", OrderStatus.paid)
    # The question was asked, then the customer talked about something else.
    question = [
        {"event": "action", "name": "action_cancel_order"},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "how long is delivery",
            "parse_data": {"intent": {"name": "delivery_info"}},
        },
        {"event": "action", "name": "action_shop_info"},
        {"event": "action", "name": "action_listen"},
    ]
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81308", "order_number": "81308"}
    tracker = order_tracker("cancel_order", "cancel my order", slots=slots, history=question)
    _, messages = run_action(ActionCancelOrder(), tracker)
    assert texts(messages).startswith("Shall I cancel order #81308")
    assert reloaded(session, order).status == OrderStatus.paid


def test_asking_twice_does_not_send_a_second_request(customer: Any, session: Session) -> None:
    order_for(session, customer, "81312", OrderStatus.paid)
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81312"}
    run_action(ActionConfirmCancel(), order_tracker("affirm", "yes", slots=slots))
    _, messages = run_action(ActionConfirmCancel(), order_tracker("affirm", "yes", slots=slots))
    assert texts(messages).startswith("I've already asked the team to cancel order #81312;")
    assert len(session.scalars(select(ShopRequest)).all()) == 1
    assert len(session.scalars(select(OutboxMessage)).all()) == 1
