"""Orders: looking, cancelling, changing, returning — and every refusal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import (
    ADDRESS_TOO_LONG,
    ANYTHING_ELSE,
    CANNOT_CANCEL_SHIPPED,
    INVALID_ADDRESS,
    LOST_TRACK,
    MAX_ADDRESS_LENGTH,
    NO_ORDERS,
    NO_RETURNS,
    ORDER_NOT_FOUND,
    WHICH_ORDER,
    ActionCancelOrder,
    ActionChangeAddress,
    ActionChangeOrder,
    ActionConfirmCancel,
    ActionConfirmRefund,
    ActionInvoice,
    ActionKeepOrder,
    ActionOrderHistory,
    ActionOrderStatus,
    ActionRefundStatus,
    ActionRequestRefund,
    ActionSaveAddress,
    ValidateAddressForm,
    on_day,
)
from crm.clock import utcnow
from crm.models import (
    AuditEntry,
    Order,
    OrderStatus,
    OutboxMessage,
    ReturnRequest,
    ReturnStatus,
    ShopRequest,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.shop import load_shop_profile
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
)
from tests.factories import make_customer, make_order, make_return

pytestmark = pytest.mark.usefixtures("crm")

VERIFIED = {"customer_id": "CV1", "verified": True}


@pytest.fixture
def customer(session: Session) -> Any:
    return make_customer(session, external_id="CV1", first_name="Vera", email="vera@example.com")


@pytest.fixture
def stranger(session: Session) -> Any:
    return make_customer(session, external_id="CS9", first_name="Stan", email="stan@example.com")


def _tracker(
    intent: str,
    text: str = "",
    *,
    order_number: str | None = None,
    slots: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    entities = [{"entity": "order_number", "value": order_number}] if order_number else []
    return make_tracker(
        text=text or intent,
        intent=intent,
        entities=entities,
        slots={**VERIFIED, **(slots or {})},
        **kwargs,
    )


def _reload(session: Session, order: Order) -> Order:
    session.expire_all()
    reloaded = session.get(Order, order.id)
    assert reloaded is not None
    return reloaded


def _followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e["event"] == "followup"]


# -- dates --------------------------------------------------------------------------


def test_dates_read_like_a_person_wrote_them() -> None:
    now = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # a Friday
    assert on_day(now - timedelta(hours=2), now=now) == "today"
    assert on_day(now - timedelta(days=1), now=now) == "yesterday"
    assert (
        on_day(datetime(2026, 11, 17, 10, 0, tzinfo=timezone.utc), now=now) == "on Tuesday 17 November"
    )
    assert (
        on_day(datetime(2025, 12, 30, 10, 0, tzinfo=timezone.utc), now=now)
        == "on Tuesday 30 December 2025"
    )


def test_dates_are_in_the_shops_time_zone() -> None:
    # 23:30 UTC on 30 June is already 1 July in London (BST).
    now = datetime(2026, 7, 20, 12, 0, tzinfo=timezone.utc)
    assert on_day(datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc), now=now) == "on Wednesday 1 July"


# -- nobody verified ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "intent"),
    [
        (ActionOrderStatus(), "track_order"),
        (ActionOrderHistory(), "order_history"),
        (ActionInvoice(), "get_invoice"),
        (ActionCancelOrder(), "cancel_order"),
        (ActionConfirmCancel(), "cancel_order"),
        (ActionChangeOrder(), "change_order"),
        (ActionChangeAddress(), "change_shipping_address"),
        (ActionSaveAddress(), "change_shipping_address"),
        (ActionRequestRefund(), "request_refund"),
        (ActionConfirmRefund(), "request_refund"),
        (ActionRefundStatus(), "refund_status"),
    ],
)
def test_an_unverified_customer_sees_nothing_and_is_asked_to_verify(
    action: Any, intent: str, customer: Any, session: Session
) -> None:
    order = make_order(session, customer=customer, number="81001", status=OrderStatus.paid)
    # A customer id typed or claimed without verification counts for nothing.
    tracker = make_tracker(
        text="order 81001",
        intent=intent,
        entities=[{"entity": "order_number", "value": "81001"}],
        slots={
            "customer_id": "CV1",
            "verified": False,
            "awaiting": "cancel_confirmation",
            "order_in_question": "81001",
        },
    )
    events, messages = run_action(action, tracker)
    assert messages == []
    assert slot_events(events) == {"pending_request": intent}
    assert _followups(events) == ["verify_form"]
    assert _reload(session, order).status == OrderStatus.paid


# -- status ---------------------------------------------------------------------------


def test_status_of_a_shipped_order_has_carrier_and_tracking(customer: Any, session: Session) -> None:
    order = make_order(
        session,
        customer=customer,
        number="81043",
        status=OrderStatus.shipped,
        carrier="Royal Mail",
        tracking_number="RM123456789GB",
        shipped_at=utcnow() - timedelta(days=3),
        lines=[("Blue Mug", 2), ("Tea Sampler", 1)],
    )
    events, messages = run_action(ActionOrderStatus(), _tracker("track_order", "where is my order"))
    said = texts(messages)
    assert said.startswith(f"Order #81043 shipped {on_day(order.shipped_at)} with Royal Mail.")
    assert "Your tracking number is RM123456789GB." in said
    assert "2 × Blue Mug and 1 × Tea Sampler" in said
    assert said.endswith(ANYTHING_ELSE)
    assert slot_events(events)["resolved_request"] == "track_order"
    assert slot_events(events)["order_number"] == "81043"


def test_status_uses_the_number_the_customer_gives(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81050", status=OrderStatus.paid)
    make_order(session, customer=customer, number="81051", status=OrderStatus.delivered)
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order", order_number="#00081051"))
    assert texts(messages).startswith("Order #81051 was delivered")


def test_someone_elses_order_is_indistinguishable_from_an_unknown_one(
    customer: Any, stranger: Any, session: Session
) -> None:
    make_order(
        session, customer=stranger, number="81777", status=OrderStatus.shipped, tracking_number="SECRET1"
    )
    others_events, others = run_action(
        ActionOrderStatus(), _tracker("track_order", order_number="81777")
    )
    unknown_events, unknown = run_action(
        ActionOrderStatus(), _tracker("track_order", order_number="81778")
    )
    assert texts(others) == ORDER_NOT_FOUND.format(number="81777")
    assert texts(others).replace("81777", "N") == texts(unknown).replace("81778", "N")
    assert others[0]["buttons"] == unknown[0]["buttons"]
    assert "SECRET1" not in texts(others)
    assert slot_events(others_events) == slot_events(unknown_events)


def test_several_open_orders_make_the_bot_ask_which(customer: Any, session: Session) -> None:
    make_order(
        session,
        customer=customer,
        number="81060",
        status=OrderStatus.paid,
        placed_at=utcnow() - timedelta(days=1),
    )
    make_order(
        session,
        customer=customer,
        number="81061",
        status=OrderStatus.shipped,
        placed_at=utcnow() - timedelta(days=5),
    )
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order"))
    assert texts(messages) == WHICH_ORDER
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == [
        '/track_order{"order_number": "81060"}',
        '/track_order{"order_number": "81061"}',
    ]


def test_with_nothing_open_the_latest_order_is_shown(customer: Any, session: Session) -> None:
    make_order(
        session,
        customer=customer,
        number="81070",
        status=OrderStatus.delivered,
        placed_at=utcnow() - timedelta(days=40),
    )
    make_order(
        session,
        customer=customer,
        number="81071",
        status=OrderStatus.delivered,
        placed_at=utcnow() - timedelta(days=9),
    )
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order"))
    assert texts(messages).startswith("Order #81071 was delivered")


def test_no_orders_at_all(customer: Any) -> None:
    events, messages = run_action(ActionOrderStatus(), _tracker("track_order"))
    assert texts(messages) == NO_ORDERS
    assert "resolved_request" not in slot_events(events)


def test_an_order_number_the_shop_never_uses_is_refused(customer: Any) -> None:
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order", order_number="#0000"))
    assert "doesn't look like one of our order numbers" in texts(messages)


# -- history and invoice ------------------------------------------------------------------


def test_history_lists_the_last_five_newest_first(customer: Any, session: Session) -> None:
    for i in range(7):
        make_order(
            session,
            customer=customer,
            number=f"8110{i}",
            status=OrderStatus.delivered,
            placed_at=utcnow() - timedelta(days=100 - i * 10),
            total="12.50",
        )
    events, messages = run_action(ActionOrderHistory(), _tracker("order_history"))
    lines = [line for line in texts(messages).splitlines() if line.startswith("• ")]
    assert [line.split(" · ")[0] for line in lines] == [
        "• #81106",
        "• #81105",
        "• #81104",
        "• #81103",
        "• #81102",
    ]
    assert all("£12.50" in line for line in lines)
    assert texts(messages).startswith("Here are your last 5 orders:")
    assert slot_events(events)["resolved_request"] == "order_history"


def test_invoice_summary_has_lines_and_total_with_currency(customer: Any, session: Session) -> None:
    make_order(
        session,
        customer=customer,
        number="81200",
        status=OrderStatus.delivered,
        lines=[("Cast Iron Teapot", 1, "42.00"), ("Blue Mug", 2, "14.00")],
    )
    events, messages = run_action(ActionInvoice(), _tracker("get_invoice", "can i get my invoice"))
    said = texts(messages)
    assert said.startswith("Invoice for order #81200, placed on ")
    assert "• 1 × Cast Iron Teapot — £42.00" in said
    assert "• 2 × Blue Mug — £28.00" in said
    assert "Total: £70.00" in said
    assert slot_events(events)["resolved_request"] == "get_invoice"


def test_invoice_for_someone_elses_order_is_refused(
    customer: Any, stranger: Any, session: Session
) -> None:
    make_order(session, customer=stranger, number="81201", lines=[("Secret Gift", 1, "99.00")])
    _, messages = run_action(ActionInvoice(), _tracker("get_invoice", order_number="81201"))
    assert texts(messages) == ORDER_NOT_FOUND.format(number="81201")
    assert "Secret Gift" not in texts(messages)


# -- cancelling ------------------------------------------------------------------------------


def test_cancel_asks_for_an_explicit_yes_first(customer: Any, session: Session) -> None:
    order = make_order(
        session,
        customer=customer,
        number="81300",
        status=OrderStatus.paid,
        lines=[("Blue Mug", 1, "14.00")],
    )
    events, messages = run_action(ActionCancelOrder(), _tracker("cancel_order", "cancel my order"))
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
    assert _reload(session, order).status == OrderStatus.paid


def test_yes_cancels_and_records_it(customer: Any, session: Session) -> None:
    order = make_order(
        session, customer=customer, number="81301", status=OrderStatus.paid, total="36.00"
    )
    tracker = _tracker(
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
    assert _reload(session, order).status == OrderStatus.paid
    request = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).one()
    assert (request.kind, request.status) == (ShopRequestKind.cancel, ShopRequestStatus.requested)
    outbox = session.scalars(select(OutboxMessage)).one()
    assert outbox.payload["reference"] == request.reference and outbox.payload["kind"] == "cancel"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:81301")).one()
    assert (entry.action, entry.actor) == ("request.cancel", "customer:CV1")
    assert slot_events(events)["resolved_request"] == "cancel_order"
    assert slot_events(events)["awaiting"] is None


def test_yes_without_an_open_question_cancels_nothing(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81302", status=OrderStatus.paid)
    tracker = _tracker("affirm", "yes", slots={"order_number": "81302"})
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert texts(messages) == LOST_TRACK
    assert _reload(session, order).status == OrderStatus.paid


def test_a_shipped_order_cannot_be_cancelled(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81303", status=OrderStatus.shipped)
    events, messages = run_action(ActionCancelOrder(), _tracker("cancel_order", order_number="81303"))
    days = load_shop_profile().returns.window_days
    assert texts(messages) == CANNOT_CANCEL_SHIPPED.format(number="81303", days=days)
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/request_refund{"order_number": "81303"}',
        "/request_human",
    ]
    assert slot_events(events)["awaiting"] is None
    assert _reload(session, order).status == OrderStatus.shipped


def test_an_order_that_shipped_after_the_question_is_not_cancelled(
    customer: Any, session: Session
) -> None:
    order = make_order(session, customer=customer, number="81304", status=OrderStatus.shipped)
    tracker = _tracker(
        "affirm", "yes", slots={"awaiting": "cancel_confirmation", "order_in_question": "81304"}
    )
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert "has already shipped" in texts(messages)
    assert _reload(session, order).status == OrderStatus.shipped


def test_yes_cannot_cancel_someone_elses_order(customer: Any, stranger: Any, session: Session) -> None:
    order = make_order(session, customer=stranger, number="81305", status=OrderStatus.paid)
    tracker = _tracker(
        "affirm", "yes", slots={"awaiting": "cancel_confirmation", "order_in_question": "81305"}
    )
    _, messages = run_action(ActionConfirmCancel(), tracker)
    assert texts(messages) == ORDER_NOT_FOUND.format(number="81305")
    assert _reload(session, order).status == OrderStatus.paid


def test_no_keeps_the_order(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81306", status=OrderStatus.paid)
    tracker = _tracker(
        "deny", "no", slots={"awaiting": "cancel_confirmation", "order_in_question": "81306"}
    )
    events, messages = run_action(ActionKeepOrder(), tracker)
    assert texts(messages).startswith(
        "Okay — I haven't cancelled anything; order #81306 stays as it is."
    )
    assert slot_events(events)["awaiting"] is None and slot_events(events)["order_in_question"] is None
    assert _reload(session, order).status == OrderStatus.paid


# -- changing items ------------------------------------------------------------------------------


def test_changing_items_before_shipping_offers_a_person(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81400", status=OrderStatus.paid)
    events, messages = run_action(
        ActionChangeOrder(), _tracker("change_order", "i want to swap an item")
    )
    assert "I can't change the items on an order myself" in texts(messages)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events)["awaiting"] == "handoff_offer"
    assert slot_events(events)["handoff_reason"] == "change_order"


def test_changing_items_after_shipping_explains_and_offers_a_return(
    customer: Any, session: Session
) -> None:
    make_order(session, customer=customer, number="81401", status=OrderStatus.shipped)
    events, messages = run_action(ActionChangeOrder(), _tracker("change_order", order_number="81401"))
    assert texts(messages).startswith("Order #81401 has already shipped, so its items can't be changed")
    assert [b["title"] for b in messages[0]["buttons"]] == ["Start a return", "Talk to a person"]
    assert slot_events(events)["awaiting"] is None


def test_no_to_the_person_clears_the_handoff_reason(customer: Any) -> None:
    tracker = _tracker(
        "deny", "no thanks", slots={"awaiting": "handoff_offer", "handoff_reason": "change_order"}
    )
    events, messages = run_action(ActionKeepOrder(), tracker)
    assert slot_events(events)["handoff_reason"] is None
    assert texts(messages) == "No problem.\n" + ANYTHING_ELSE


# -- new address ---------------------------------------------------------------------------------


def test_address_change_before_shipping_starts_the_form(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81500", status=OrderStatus.paid)
    events, messages = run_action(ActionChangeAddress(), _tracker("change_shipping_address"))
    assert messages == []  # address_form asks
    assert slot_events(events) == {
        "awaiting": "new_address",
        "order_in_question": "81500",
        "order_number": "81500",
        "new_address": None,
    }


def test_address_change_after_shipping_offers_a_person(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81501", status=OrderStatus.shipped, carrier="DPD")
    events, messages = run_action(
        ActionChangeAddress(), _tracker("change_shipping_address", order_number="81501")
    )
    assert "can't change its delivery address" in texts(messages)
    assert "ask DPD to redirect it" in texts(messages)
    assert slot_events(events)["awaiting"] == "handoff_offer"


def _address_tracker(text: str) -> Any:
    return make_tracker(
        text=text,
        intent="inform",
        slots={**VERIFIED, "requested_slot": "new_address", "new_address": text},
        trailing=[
            {"event": "action", "name": "address_form"},
            {"event": "slot", "name": "new_address", "value": text},
        ],
        active_loop={"name": "address_form"},
    )


def test_a_full_address_is_accepted_and_tidied() -> None:
    events, messages = run_action(
        ValidateAddressForm(), _address_tracker("12  Mill Lane\nBristol   BS1 4AB")
    )
    assert messages == []
    assert slot_events(events) == {"new_address": "12 Mill Lane, Bristol BS1 4AB"}


@pytest.mark.parametrize("text", ["never mind", "home", "the usual place please"])
def test_something_that_is_not_an_address_is_reasked(text: str) -> None:
    events, messages = run_action(ValidateAddressForm(), _address_tracker(text))
    assert texts(messages) == INVALID_ADDRESS
    assert slot_events(events) == {"new_address": None}


def test_a_five_thousand_character_address_is_refused() -> None:
    events, messages = run_action(ValidateAddressForm(), _address_tracker("12 Mill Lane " * 400))
    assert texts(messages) == ADDRESS_TOO_LONG.format(max=MAX_ADDRESS_LENGTH)
    assert slot_events(events) == {"new_address": None}


def test_yes_saves_the_confirmed_address(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81502", status=OrderStatus.paid)
    slots = {
        "awaiting": "new_address",
        "order_in_question": "81502",
        "new_address": "12 Mill Lane, Bristol BS1 4AB",
    }
    events, messages = run_action(ActionSaveAddress(), _tracker("affirm", "yes", slots=slots))
    assert texts(messages).startswith(
        "I've asked the team to send order #81502 to the new address; I'll tell you here as soon as "
        "it's confirmed."
    )
    assert _reload(session, order).shipping_address != "12 Mill Lane, Bristol BS1 4AB"
    request = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).one()
    assert request.kind == ShopRequestKind.change_address
    assert request.detail == {"address": "12 Mill Lane, Bristol BS1 4AB"}
    entry = session.scalars(select(AuditEntry).where(AuditEntry.subject == "order:81502")).one()
    assert entry.action == "request.change_address" and "Mill" not in json.dumps(entry.detail)
    assert slot_events(events)["resolved_request"] == "change_shipping_address"


def test_an_address_is_not_saved_once_the_order_has_shipped(customer: Any, session: Session) -> None:
    order = make_order(
        session, customer=customer, number="81503", status=OrderStatus.shipped, shipping_address="Old 1"
    )
    slots = {
        "awaiting": "new_address",
        "order_in_question": "81503",
        "new_address": "12 Mill Lane, Bristol BS1 4AB",
    }
    _, messages = run_action(ActionSaveAddress(), _tracker("affirm", "yes", slots=slots))
    assert "can't change any more" in texts(messages)
    assert _reload(session, order).shipping_address == "Old 1"


# -- returns and refunds -------------------------------------------------------------------------


def test_a_recent_delivery_gets_a_return_offer(customer: Any, session: Session) -> None:
    make_order(
        session,
        customer=customer,
        number="81600",
        status=OrderStatus.delivered,
        delivered_at=utcnow() - timedelta(days=5),
        lines=[("Blue Mug", 1, "14.00")],
    )
    events, messages = run_action(
        ActionRequestRefund(), _tracker("request_refund", "i want my money back")
    )
    assert texts(messages).startswith("Shall I open a return for order #81600 (1 × Blue Mug, £14.00)?")
    assert slot_events(events)["awaiting"] == "refund_confirmation"


def test_yes_opens_a_return_with_a_reference(customer: Any, session: Session) -> None:
    order = make_order(
        session,
        customer=customer,
        number="81601",
        status=OrderStatus.delivered,
        delivered_at=utcnow() - timedelta(days=5),
        total="24.00",
    )
    tracker = _tracker(
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
    make_order(session, customer=customer, number="81602", status=OrderStatus.paid)
    events, messages = run_action(
        ActionRequestRefund(), _tracker("request_refund", order_number="81602")
    )
    assert texts(messages).startswith("Order #81602 hasn't shipped yet")
    assert slot_events(events)["awaiting"] == "cancel_confirmation"
    assert slot_events(events)["order_in_question"] == "81602"


def test_a_refund_outside_the_window_offers_a_person(customer: Any, session: Session) -> None:
    window = load_shop_profile().returns.window_days
    make_order(
        session,
        customer=customer,
        number="81603",
        status=OrderStatus.delivered,
        placed_at=utcnow() - timedelta(days=window + 30),
        delivered_at=utcnow() - timedelta(days=window + 5),
    )
    events, messages = run_action(
        ActionRequestRefund(), _tracker("request_refund", order_number="81603")
    )
    assert f"outside our {window}-day return window" in texts(messages)
    assert slot_events(events)["awaiting"] == "handoff_offer"
    assert slot_events(events)["handoff_reason"] == "refund_outside_window"


def test_a_second_return_for_the_same_order_is_not_opened(customer: Any, session: Session) -> None:
    order = make_order(
        session,
        customer=customer,
        number="81604",
        status=OrderStatus.delivered,
        delivered_at=utcnow() - timedelta(days=3),
    )
    make_return(session, order=order, reference="R-EXIST1")
    _, messages = run_action(ActionRequestRefund(), _tracker("request_refund", order_number="81604"))
    assert texts(messages).startswith("There's already a return for order #81604: reference R-EXIST1")
    tracker = _tracker(
        "affirm", "yes", slots={"awaiting": "refund_confirmation", "order_in_question": "81604"}
    )
    run_action(ActionConfirmRefund(), tracker)
    session.expire_all()
    assert (
        len(session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()) == 1
    )


def test_refund_status_lists_each_return(customer: Any, session: Session) -> None:
    first = make_order(
        session, customer=customer, number="81700", status=OrderStatus.returned, total="18.00"
    )
    second = make_order(
        session, customer=customer, number="81701", status=OrderStatus.delivered, total="9.50"
    )
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
    events, messages = run_action(ActionRefundStatus(), _tracker("refund_status", "where is my refund"))
    said = texts(messages)
    assert f"• R-DONE01 for order #81700: refunded £18.00 {on_day(refunded.refunded_at)}" in said
    assert (
        "• R-WAIT02 for order #81701: we've received the items and your refund of £9.50 is on its way"
        in said
    )
    assert slot_events(events)["resolved_request"] == "refund_status"


def test_refund_status_without_returns(customer: Any) -> None:
    events, messages = run_action(ActionRefundStatus(), _tracker("refund_status"))
    assert texts(messages) == NO_RETURNS
    assert "resolved_request" not in slot_events(events)


def test_refund_status_of_someone_elses_order_reveals_nothing(
    customer: Any, stranger: Any, session: Session
) -> None:
    theirs = make_order(session, customer=stranger, number="81702", status=OrderStatus.returned)
    make_return(session, order=theirs, reference="R-THEIRS")
    _, others = run_action(ActionRefundStatus(), _tracker("refund_status", order_number="81702"))
    _, unknown = run_action(ActionRefundStatus(), _tracker("refund_status", order_number="81703"))
    assert "R-THEIRS" not in texts(others)
    assert texts(others).replace("81702", "N") == texts(unknown).replace("81703", "N")


def test_cancel_it_in_answer_to_the_question_is_a_yes(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81307", status=OrderStatus.paid)
    question = [
        {"event": "action", "name": "action_cancel_order"},
        {"event": "bot", "text": "Shall I cancel order #81307 ...?"},
        {"event": "action", "name": "action_listen"},
    ]
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81307", "order_number": "81307"}
    tracker = _tracker("cancel_order", "yes cancel it", slots=slots, history=question)
    events, messages = run_action(ActionCancelOrder(), tracker)
    assert texts(messages).startswith("I've asked the team to cancel order #81307;")
    assert session.scalars(select(ShopRequest.kind).where(ShopRequest.order_id == order.id)).one() == (
        ShopRequestKind.cancel
    )
    assert slot_events(events)["resolved_request"] == "cancel_order"


def test_cancel_later_in_the_conversation_asks_again(customer: Any, session: Session) -> None:
    order = make_order(session, customer=customer, number="81308", status=OrderStatus.paid)
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
    tracker = _tracker("cancel_order", "cancel my order", slots=slots, history=question)
    _, messages = run_action(ActionCancelOrder(), tracker)
    assert texts(messages).startswith("Shall I cancel order #81308")
    assert _reload(session, order).status == OrderStatus.paid


def test_the_return_is_passed_to_the_shop(customer: Any, session: Session) -> None:
    order = make_order(
        session, customer=customer, number="81611", status=OrderStatus.delivered,
        delivered_at=utcnow() - timedelta(days=3),
    )
    tracker = _tracker("affirm", "yes", slots={"awaiting": "refund_confirmation", "order_in_question": "81611"})
    _, messages = run_action(ActionConfirmRefund(), tracker)
    session.expire_all()
    [request] = session.scalars(select(ShopRequest).where(ShopRequest.order_id == order.id)).all()
    [opened] = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id)).all()
    assert request.kind == ShopRequestKind.return_ and request.detail == {"return_reference": opened.reference}
    assert "I'll tell you here as soon as they confirm it." in texts(messages)


def test_asking_twice_does_not_send_a_second_request(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81312", status=OrderStatus.paid)
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81312"}
    run_action(ActionConfirmCancel(), _tracker("affirm", "yes", slots=slots))
    _, messages = run_action(ActionConfirmCancel(), _tracker("affirm", "yes", slots=slots))
    assert texts(messages).startswith("I've already asked the team to cancel order #81312;")
    assert len(session.scalars(select(ShopRequest)).all()) == 1
    assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_the_status_mentions_a_request_still_waiting_for_the_shop(customer: Any, session: Session) -> None:
    make_order(session, customer=customer, number="81313", status=OrderStatus.paid)
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81313"}
    run_action(ActionConfirmCancel(), _tracker("affirm", "yes", slots=slots))
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order", order_number="81313"))
    assert "I've already asked the team to cancel order #81313" in texts(messages)
    request = session.scalars(select(ShopRequest)).one()
    request.status = ShopRequestStatus.refused
    session.flush()
    _, messages = run_action(ActionOrderStatus(), _tracker("track_order", order_number="81313"))
    assert "asked the team" not in texts(messages)
