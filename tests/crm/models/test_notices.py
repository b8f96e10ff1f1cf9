"""crm.models.notices: the outbox and order notices are claimed once by their keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.models import Customer, Notice, NoticeStatus, OutboxMessage
from tests.factories import make_customer, make_order


def test_an_event_or_a_notice_is_stored_once(session: Session, refused: Callable[..., None]) -> None:
    customer = make_customer(session)
    session.add_all([
        OutboxMessage(event_id="evt-1", topic="request.created", payload={}),
        Notice(dedupe_key="shipped:9401:C1", customer_id=customer.id, kind="shipped"),
    ])  # fmt: skip
    session.flush()
    refused(OutboxMessage(event_id="evt-1", topic="request.created", payload={}))
    refused(Notice(dedupe_key="shipped:9401:C1", customer_id=customer.id, kind="shipped"))


def test_defaults_are_pending_due_now_and_not_tried(session: Session, stored: Callable[[str], Any]) -> None:
    customer = make_customer(session)
    message = OutboxMessage(event_id="evt-2", topic="request.created", payload={"a": 1})
    notice = Notice(dedupe_key="delayed:9402", customer_id=customer.id, kind="delayed")
    session.add_all([message, notice])
    session.flush()
    assert (message.status, message.attempts, message.sent_at) == ("pending", 0, None)
    assert message.next_attempt_at is not None
    assert (notice.status, notice.attempts, notice.deferred, notice.detail) == (NoticeStatus.pending, 0, False, {})
    assert stored("SELECT status FROM notices") == "pending"


def test_a_customers_notices_and_outbox_messages_go_with_them(session: Session) -> None:
    customer = make_customer(session)
    order = make_order(session, customer=customer, number="9403")
    session.add_all([
        OutboxMessage(event_id="evt-3", topic="request.created", payload={}, customer_id=customer.id),
        Notice(dedupe_key="shipped:9403", customer_id=customer.id, order_id=order.id, kind="shipped"),
    ])  # fmt: skip
    session.flush()
    session.execute(delete(Customer).where(Customer.id == customer.id))
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.scalar(select(func.count()).select_from(Notice)) == 0
