"""actions.orders.turn: every order action shows nothing to an unverified customer and asks to verify."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from actions.orders import (
    ActionCancelOrder,
    ActionChangeAddress,
    ActionChangeOrder,
    ActionConfirmCancel,
    ActionConfirmRefund,
    ActionInvoice,
    ActionOrderHistory,
    ActionOrderStatus,
    ActionRefundStatus,
    ActionRequestRefund,
    ActionSaveAddress,
)
from crm.models import OrderStatus
from tests.actions.orders.support import followups, order_for, reloaded
from tests.actions.tracker_support import make_tracker, run_action, slot_events

pytestmark = pytest.mark.usefixtures("crm")


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
    order = order_for(session, customer, "81001", OrderStatus.paid)
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
    assert followups(events) == ["verify_form"]
    assert reloaded(session, order).status == OrderStatus.paid
