"""actions.orders.status: where an order is, the order history and the invoice."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import (
    ANYTHING_ELSE,
    NO_ORDERS,
    ORDER_NOT_FOUND,
    WHICH_ORDER,
    ActionConfirmCancel,
    ActionInvoice,
    ActionOrderHistory,
    ActionOrderStatus,
    on_day,
)
from crm.models import OrderStatus, ShopRequest, ShopRequestStatus
from tests.actions.orders.support import order_for, order_tracker
from tests.actions.tracker_support import run_action, slot_events, texts

pytestmark = pytest.mark.usefixtures("crm")


def test_status_of_a_shipped_order_has_carrier_and_tracking(customer: Any, session: Session) -> None:
    order = order_for(
        session, customer, "81043", OrderStatus.shipped, carrier="Royal Mail",
        tracking_number="RM123456789GB", shipped=3, lines=[("Blue Mug", 2), ("Tea Sampler", 1)],
    )
    events, messages = run_action(ActionOrderStatus(), order_tracker("track_order", "where is my order"))
    said = texts(messages)
    assert said.startswith(f"Order #81043 shipped {on_day(order.shipped_at)} with Royal Mail.")
    assert "Your tracking number is RM123456789GB." in said
    assert "2 × Blue Mug and 1 × Tea Sampler" in said
    assert said.endswith(ANYTHING_ELSE)
    assert slot_events(events)["resolved_request"] == "track_order"
    assert slot_events(events)["order_number"] == "81043"


def test_status_uses_the_number_the_customer_gives(customer: Any, session: Session) -> None:
    order_for(session, customer, "81050", OrderStatus.paid)
    order_for(session, customer, "81051", OrderStatus.delivered)
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order", order_number="#00081051"))
    assert texts(messages).startswith("Order #81051 was delivered")


def test_someone_elses_order_is_indistinguishable_from_an_unknown_one(
    customer: Any, stranger: Any, session: Session
) -> None:
    order_for(session, stranger, "81777", OrderStatus.shipped, tracking_number="SECRET1")
    others_events, others = run_action(
        ActionOrderStatus(), order_tracker("track_order", order_number="81777")
    )
    unknown_events, unknown = run_action(
        ActionOrderStatus(), order_tracker("track_order", order_number="81778")
    )
    assert texts(others) == ORDER_NOT_FOUND.format(number="81777")
    assert texts(others).replace("81777", "N") == texts(unknown).replace("81778", "N")
    assert others[0]["buttons"] == unknown[0]["buttons"]
    assert "SECRET1" not in texts(others)
    assert slot_events(others_events) == slot_events(unknown_events)


def test_several_open_orders_make_the_bot_ask_which(customer: Any, session: Session) -> None:
    order_for(session, customer, "81060", OrderStatus.paid, placed=1)
    order_for(session, customer, "81061", OrderStatus.shipped, placed=5)
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order"))
    assert texts(messages) == WHICH_ORDER
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == [
        '/track_order{"order_number": "81060"}',
        '/track_order{"order_number": "81061"}',
    ]


def test_with_nothing_open_the_latest_order_is_shown(customer: Any, session: Session) -> None:
    order_for(session, customer, "81070", OrderStatus.delivered, placed=40)
    order_for(session, customer, "81071", OrderStatus.delivered, placed=9)
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order"))
    assert texts(messages).startswith("Order #81071 was delivered")


def test_no_orders_at_all(customer: Any) -> None:
    events, messages = run_action(ActionOrderStatus(), order_tracker("track_order"))
    assert texts(messages) == NO_ORDERS
    assert "resolved_request" not in slot_events(events)


def test_an_order_number_the_shop_never_uses_is_refused(customer: Any) -> None:
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order", order_number="#0000"))
    assert "doesn't look like one of our order numbers" in texts(messages)


def test_history_lists_the_last_five_newest_first(customer: Any, session: Session) -> None:
    for i in range(7):
        order_for(session, customer, f"8110{i}", OrderStatus.delivered, placed=100 - i * 10, total="12.50")
    events, messages = run_action(ActionOrderHistory(), order_tracker("order_history"))
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
    order_for(
        session, customer, "81200", OrderStatus.delivered,
        lines=[("Cast Iron Teapot", 1, "42.00"), ("Blue Mug", 2, "14.00")],
    )
    events, messages = run_action(ActionInvoice(), order_tracker("get_invoice", "can i get my invoice"))
    said = texts(messages)
    assert said.startswith("Invoice for order #81200, placed on ")
    assert "• 1 × Cast Iron Teapot — £42.00" in said
    assert "• 2 × Blue Mug — £28.00" in said
    assert "Total: £70.00" in said
    assert slot_events(events)["resolved_request"] == "get_invoice"


def test_invoice_for_someone_elses_order_is_refused(
    customer: Any, stranger: Any, session: Session
) -> None:
    order_for(session, stranger, "81201", lines=[("Secret Gift", 1, "99.00")])
    _, messages = run_action(ActionInvoice(), order_tracker("get_invoice", order_number="81201"))
    assert texts(messages) == ORDER_NOT_FOUND.format(number="81201")
    assert "Secret Gift" not in texts(messages)


def test_the_status_mentions_a_request_still_waiting_for_the_shop(customer: Any, session: Session) -> None:
    order_for(session, customer, "81313", OrderStatus.paid)
    slots = {"awaiting": "cancel_confirmation", "order_in_question": "81313"}
    run_action(ActionConfirmCancel(), order_tracker("affirm", "yes", slots=slots))
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order", order_number="81313"))
    assert "I've already asked the team to cancel order #81313" in texts(messages)
    request = session.scalars(select(ShopRequest)).one()
    request.status = ShopRequestStatus.refused
    session.flush()
    _, messages = run_action(ActionOrderStatus(), order_tracker("track_order", order_number="81313"))
    assert "asked the team" not in texts(messages)
