"""actions.identity.complete: remembering the request, then completing verification and resuming it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity import (
    PENDING_REQUEST_ACTIONS,
    VERIFICATION_FAILED,
    VERIFIED,
    VERIFIED_NOTHING_PENDING,
    ActionCompleteVerification,
    ActionRememberRequest,
)
from crm.models import AuditEntry, Conversation
from tests.actions.identity.support import failed_attempts_of
from tests.factories import make_conversation
from tests.actions.tracker_support import (
    load_domain,
    make_tracker,
    run_action,
    slot_events,
    texts,
    user_event,
)

pytestmark = pytest.mark.usefixtures("crm")


@pytest.mark.parametrize("intent", sorted(PENDING_REQUEST_ACTIONS))
def test_every_personal_intent_is_remembered(intent: str) -> None:
    events, _ = run_action(ActionRememberRequest(), make_tracker(text="...", intent=intent))
    assert slot_events(events) == {"pending_request": intent}


def test_a_non_personal_intent_is_not_remembered() -> None:
    events, _ = run_action(ActionRememberRequest(), make_tracker(text="hi", intent="greet"))
    assert slot_events(events) == {"pending_request": None}


def test_every_pending_action_is_in_the_domain_or_a_response() -> None:
    domain = load_domain()
    known = set(domain["actions"]) | set(domain["responses"])
    assert set(PENDING_REQUEST_ACTIONS.values()) <= known
    assert set(PENDING_REQUEST_ACTIONS) == set(domain["slots"]["pending_request"]["values"])


def _completion_tracker(slots: dict[str, Any], sender_id: str = "conv-done", **kwargs: Any) -> Any:
    return make_tracker(
        text="amelia.hughes@example.com",
        intent="inform",
        slots=slots,
        sender_id=sender_id,
        history=[user_event("where is my order", "track_order")],
        **kwargs,
    )


def test_verification_sets_identity_and_resumes_the_request(amelia: Any, session: Session) -> None:
    make_conversation(session, conversation_id="conv-done")  # the gateway's, made before Rasa saw a message
    tracker = _completion_tracker(
        {"order_number": "71043", "email": "amelia.hughes@example.com", "pending_request": "track_order"}
    )
    events, messages = run_action(ActionCompleteVerification(), tracker)
    assert slot_events(events) == {
        "customer_id": "CA1",
        "verified": True,
        "customer_first_name": "Amelia",
    }
    assert {"event": "followup", "timestamp": None, "name": "action_order_status"} in events
    assert texts(messages) == VERIFIED.format(first_name="Amelia")
    session.expire_all()
    conversation = session.get(Conversation, "conv-done")
    assert conversation is not None and conversation.customer_id == amelia.id
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "identity.verify")).all()


@pytest.mark.parametrize(
    ("pending", "follow_up"),
    [
        ("delete_account", "utter_confirm_erasure"),
        ("cancel_order", "action_cancel_order"),
        ("data_access", "action_data_summary"),
    ],
)
def test_verification_resumes_each_kind_of_request(amelia: Any, pending: str, follow_up: str) -> None:
    tracker = _completion_tracker(
        {"order_number": "71043", "email": "amelia.hughes@example.com", "pending_request": pending}
    )
    events, _ = run_action(ActionCompleteVerification(), tracker)
    assert [e["name"] for e in events if e["event"] == "followup"] == [follow_up]


def test_verification_with_nothing_pending_asks_how_to_help(amelia: Any) -> None:
    tracker = _completion_tracker({"order_number": "71043", "email": "amelia.hughes@example.com"})
    events, messages = run_action(ActionCompleteVerification(), tracker)
    assert texts(messages) == VERIFIED_NOTHING_PENDING.format(first_name="Amelia")
    assert not [e for e in events if e["event"] == "followup"]


def test_after_three_misses_a_person_takes_over(amelia: Any) -> None:
    tracker = _completion_tracker({"verification_failed": True, "verification_attempts": 3.0})
    events, messages = run_action(ActionCompleteVerification(), tracker)
    slots = slot_events(events)
    assert slots["handoff_reason"] == "verification_failed"
    assert "verified" not in slots and "customer_id" not in slots
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_handoff"}
    assert texts(messages) == VERIFICATION_FAILED


def test_failed_even_with_the_right_pair_stays_failed(amelia: Any) -> None:
    # Once out of attempts, a later right guess must not verify in this conversation.
    tracker = _completion_tracker(
        {"order_number": "71043", "email": "amelia.hughes@example.com", "verification_failed": True}
    )
    events, _ = run_action(ActionCompleteVerification(), tracker)
    assert "verified" not in slot_events(events)
    assert events[-1]["name"] == "action_handoff"


def test_an_email_alone_verifies_nobody(amelia: Any, session: Session) -> None:
    tracker = _completion_tracker({"email": "amelia.hughes@example.com"}, sender_id="conv-alone")
    events, messages = run_action(ActionCompleteVerification(), tracker)
    assert "verified" not in slot_events(events)
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "verify_form"}
    assert "couldn't match" in texts(messages)
    assert failed_attempts_of(session, "conv-alone") == 1


def test_a_customer_id_slot_without_verification_is_not_trusted(amelia: Any) -> None:
    tracker = _completion_tracker({"customer_id": "CA1", "verified": False}, sender_id="conv-claim")
    events, _ = run_action(ActionCompleteVerification(), tracker)
    assert "verified" not in slot_events(events)
