"""Verification limits a new conversation cannot reset (issue 7, item 4): per order
number, per e-mail and per client address, kept in the CRM, with a pause the
customer is told about and at most one handoff per customer or address per window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity import MAX_VERIFICATION_ATTEMPTS, ActionCompleteVerification, ValidateVerifyForm
from actions.verification_guard import ALREADY_ASKED, HANDING_OVER
from crm.clock import utcnow
from crm.models import OrderStatus, VerificationFailure
from crm.services import verification_limits as limits
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
    user_event,
)
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.usefixtures("crm")

RIGHT_EMAIL = "amelia.hughes@example.com"


@pytest.fixture
def amelia(session: Session) -> Any:
    customer = make_customer(session, external_id="CA1", first_name="Amelia", email=RIGHT_EMAIL)
    make_order(session, customer=customer, number="71043", status=OrderStatus.shipped)
    make_order(session, customer=customer, number="71045", status=OrderStatus.shipped)
    return customer


def _try(email: str, order_number: str, *, conversation: str, client: str) -> tuple[dict[str, Any], str]:
    """One answer to the e-mail question, in a fresh conversation (no attempts in its slots)."""
    metadata = {"channel": "web", "customer_id": None, "client": client}
    tracker = make_tracker(
        text=email,
        intent="inform",
        entities=[{"entity": "email", "value": email}],
        metadata=metadata,
        slots={"requested_slot": "email", "pending_request": "track_order", "order_number": order_number, "email": email},
        trailing=[{"event": "action", "name": "verify_form"}, {"event": "slot", "name": "email", "value": email}],
        active_loop={"name": "verify_form"},
        sender_id=conversation,
        history=[user_event("where is my order", "track_order", metadata=metadata)],
    )
    events, messages = run_action(ValidateVerifyForm(), tracker)
    return slot_events(events), texts(messages)


def _complete(conversation: str, client: str) -> tuple[list[dict[str, Any]], str]:
    metadata = {"channel": "web", "customer_id": None, "client": client}
    tracker = make_tracker(
        text="x",
        intent="inform",
        metadata=metadata,
        slots={"verification_failed": True, "verification_attempts": float(MAX_VERIFICATION_ATTEMPTS)},
        sender_id=conversation,
    )
    events, messages = run_action(ActionCompleteVerification(), tracker)
    return events, texts(messages)


def test_new_conversations_do_not_reset_the_limit_per_order_number(amelia: Any, session: Session) -> None:
    # Wrong e-mails for order 71043, each from a new conversation and a new address.
    for i in range(4):
        slots, said = _try(f"guess{i}@example.com", "71043", conversation=f"conv-{i}", client=f"c1:addr{i}")
        assert "couldn't match" in said and not slots.get("verification_failed")
    # The fifth reaches the limit: that conversation's verification ends at once.
    slots, _ = _try("guess5@example.com", "71043", conversation="conv-5", client="c1:addr5")
    assert slots["verification_failed"] is True
    # Now even the right pair, from yet another conversation and address, is not checked.
    slots, said = _try(RIGHT_EMAIL, "71043", conversation="conv-owner", client="c1:owner")
    assert slots["verification_failed"] is True and "verified" not in slots and "customer_id" not in slots
    events, told = _complete("conv-owner", "c1:owner")
    assert "paused checking order details for about" in told and "minutes" in told
    assert "verified" not in slot_events(events)
    # Another order of the same customer is not paused by guesses at 71043.
    slots, said = _try(RIGHT_EMAIL, "71045", conversation="conv-other-order", client="c1:owner2")
    assert said == "" and not slots.get("verification_failed")


def test_the_limit_per_email_holds_across_order_numbers(amelia: Any) -> None:
    for i in range(5):
        _try(RIGHT_EMAIL, f"9000{i}", conversation=f"conv-e{i}", client=f"c1:e{i}")
    slots, _ = _try(RIGHT_EMAIL, "71043", conversation="conv-e-right", client="c1:fresh")
    assert slots["verification_failed"] is True and "verified" not in slots


def test_the_limit_per_client_address_holds_across_orders_and_emails(amelia: Any) -> None:
    for i in range(10):
        _try(f"someone{i}@example.com", f"8000{i}", conversation=f"conv-a{i}", client="c1:botnet")
    slots, _ = _try(RIGHT_EMAIL, "71043", conversation="conv-a-right", client="c1:botnet")
    assert slots["verification_failed"] is True
    # The real customer, from their own address, is not affected.
    slots, said = _try(RIGHT_EMAIL, "71043", conversation="conv-real", client="c1:home")
    assert said == "" and not slots.get("verification_failed")


def test_failures_older_than_the_window_no_longer_count(amelia: Any, session: Session) -> None:
    old = utcnow() - timedelta(minutes=16)
    key = limits.limit_key("order", "71043")
    session.add_all([VerificationFailure(key=key, at=old) for _ in range(10)])
    session.flush()
    slots, said = _try(RIGHT_EMAIL, "71043", conversation="conv-later", client="c1:later")
    assert said == "" and not slots.get("verification_failed")


def test_one_handoff_per_address_and_window_however_many_conversations_fail(amelia: Any) -> None:
    outcomes = []
    for n in range(3):
        for attempt in range(MAX_VERIFICATION_ATTEMPTS):
            _try(f"wrong{attempt}@example.com", f"7{n}{attempt}00", conversation=f"conv-h{n}", client="c1:script")
        outcomes.append(_complete(f"conv-h{n}", "c1:script"))
    handoffs = [any(e.get("name") == "action_handoff" for e in events) for events, _ in outcomes]
    assert handoffs == [True, False, False]
    assert HANDING_OVER in outcomes[0][1]
    for _, told in outcomes[1:]:
        assert ALREADY_ASKED in told


def test_the_table_holds_hashes_not_emails_or_order_numbers(amelia: Any, session: Session) -> None:
    _try("private.person@example.com", "71043", conversation="conv-hash", client="c1:hash")
    keys = session.scalars(select(VerificationFailure.key)).all()
    assert len(keys) == 3 and all(len(k) == 64 for k in keys)
    assert not [k for k in keys if "example.com" in k or "71043" in k]
    assert limits.limit_key("email", "Private.Person@example.com") in keys
