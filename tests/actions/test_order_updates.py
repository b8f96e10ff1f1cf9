"""Order notices on and off in chat, and the one-time question after a verified order question."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.order_updates import ASK, NEEDS_VERIFICATION, STARTED, STOPPED, ActionOrderUpdates
from actions.orders import ActionOrderStatus
from crm.models import Consent, Customer, OrderStatus
from tests.actions.tracker_support import make_tracker, run_action, texts
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.usefixtures("crm")

ON_TELEGRAM = {"customer_id": "CU1", "channel": "telegram"}


@pytest.fixture
def customer(session: Session) -> Customer:
    customer = make_customer(session, external_id="CU1", first_name="Uma")
    make_order(session, customer=customer, number="8101", status=OrderStatus.paid)
    return customer


def _consents(session: Session, customer: Customer) -> list[tuple[str, bool, str]]:
    session.expire_all()
    rows = session.scalars(select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.id))
    return [(c.kind, c.granted, c.source) for c in rows]


def test_stop_and_start_change_order_updates_only(session: Session, customer: Customer) -> None:
    customer.marketing_opt_in = True
    session.flush()
    _, messages = run_action(ActionOrderUpdates(), make_tracker(
        text="stop order updates", intent="order_updates_stop", metadata=ON_TELEGRAM))
    assert texts(messages) == STOPPED
    _, messages = run_action(ActionOrderUpdates(), make_tracker(
        text="send me order updates", intent="order_updates_start", metadata={**ON_TELEGRAM, "channel": "sms"}))
    assert texts(messages) == STARTED
    session.expire_all()
    assert session.get(Customer, customer.id).order_updates_opt_in is True
    assert session.get(Customer, customer.id).marketing_opt_in is True  # the newsletter is another matter
    assert _consents(session, customer) == [("order_updates", False, "telegram"), ("order_updates", True, "sms")]


def test_an_unverified_customer_changes_nothing(session: Session, customer: Customer) -> None:
    _, messages = run_action(ActionOrderUpdates(), make_tracker(
        text="stop order updates", intent="order_updates_stop", metadata={"channel": "web"}))
    assert texts(messages) == NEEDS_VERIFICATION
    assert _consents(session, customer) == []


def test_asked_once_after_an_order_question_while_it_has_not_shipped(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="where is my order", intent="track_order", metadata=ON_TELEGRAM)
    _, messages = run_action(ActionOrderStatus(), tracker)
    assert messages[-1]["text"] == ASK
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/order_updates_start", "/order_updates_stop"]
    # The customer says no: that is an answer, and the question is never asked again.
    run_action(ActionOrderUpdates(), make_tracker(text="/order_updates_stop", intent="order_updates_stop",
                                                 metadata=ON_TELEGRAM))
    _, messages = run_action(ActionOrderStatus(), tracker)
    assert ASK not in texts(messages)


def test_not_asked_about_a_delivered_order_or_where_no_notice_can_go(session: Session) -> None:
    other = make_customer(session, external_id="CU2")
    make_order(session, customer=other, number="8201", status=OrderStatus.delivered)
    _, messages = run_action(ActionOrderStatus(), make_tracker(
        text="where is my order", intent="track_order", metadata={"customer_id": "CU2", "channel": "telegram"}))
    assert ASK not in texts(messages)
    make_order(session, customer=other, number="8202", status=OrderStatus.paid)
    _, messages = run_action(ActionOrderStatus(), make_tracker(
        text="where is 8202", intent="track_order", entities=[{"entity": "order_number", "value": "8202"}],
        metadata={"customer_id": "CU2", "channel": "shell"}))
    assert ASK not in texts(messages)


def test_an_answer_to_a_notice_is_about_the_notices_order(session: Session, customer: Customer) -> None:
    make_order(session, customer=customer, number="8102", status=OrderStatus.shipped, carrier="DPD")
    tracker = make_tracker(text="where is it now?", intent="track_order",
                           metadata={**ON_TELEGRAM, "order_in_context": "8102"}, slots={"order_number": "8101"})
    _, messages = run_action(ActionOrderStatus(), tracker)
    assert "#8102" in texts(messages) and "#8101" not in texts(messages)
