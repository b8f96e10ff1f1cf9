"""Who the customer is: session start from the gateway, and proof in chat."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity import (
    ASK_EMAIL,
    ASK_EMAIL_AGAIN,
    ASK_ORDER_NUMBER,
    ASK_ORDER_NUMBER_AGAIN,
    FAILED_ATTEMPT_ACTION,
    INVALID_EMAIL,
    INVALID_ORDER_NUMBER,
    PENDING_REQUEST_ACTIONS,
    VERIFICATION_FAILED,
    VERIFIED,
    VERIFIED_NOTHING_PENDING,
    ActionAskVerifyFormEmail,
    ActionAskVerifyFormOrderNumber,
    ActionCompleteVerification,
    ActionRememberRequest,
    ActionSessionStart,
    ValidateVerifyForm,
)
from crm.models import AuditEntry, Conversation, OrderStatus
from crm.services.audit import audit
from tests.actions.tracker_support import (
    load_domain,
    make_tracker,
    run_action,
    slot_events,
    texts,
    user_event,
)
from tests.factories import make_customer, make_order

pytestmark = pytest.mark.usefixtures("crm")

FORM = {"name": "verify_form"}


def _session_start_tracker(metadata: Any, *, previous: list[dict[str, Any]] | None = None) -> Any:
    from rasa_sdk import Tracker

    events = [*(previous or [])]
    if metadata is not None:
        events.append({"event": "slot", "name": "session_started_metadata", "value": metadata})
    return Tracker.from_dict(
        {
            "sender_id": "conv-start",
            "slots": {"session_started_metadata": metadata},
            "latest_message": {},
            "events": events,
            "active_loop": {},
            "latest_action_name": None,
        }
    )


def _form_tracker(
    *,
    text: str,
    entities: list[dict[str, Any]] | None = None,
    candidates: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    requested: str = "email",
    intent: str = "inform",
    sender_id: str = "conv-verify",
    metadata: dict[str, Any] | None = None,
) -> Any:
    """The tracker Rasa's FormAction hands validate_verify_form: the form's
    ActionExecuted, then the slot candidates extracted from this message."""
    trailing = [{"event": "action", "name": "verify_form"}] + [
        {"event": "slot", "name": name, "value": value} for name, value in (candidates or {}).items()
    ]
    return make_tracker(
        text=text,
        intent=intent,
        entities=entities,
        metadata=metadata,
        slots={
            "requested_slot": requested,
            "pending_request": "track_order",
            **(slots or {}),
            **(candidates or {}),
        },
        trailing=trailing,
        active_loop=FORM,
        sender_id=sender_id,
        history=[user_event("where is my order", "track_order")],
    )


def _failures(session: Session, conversation_id: str) -> int:
    session.expire_all()
    return len(
        session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == FAILED_ATTEMPT_ACTION,
                AuditEntry.subject == f"conversation:{conversation_id}",
            )
        ).all()
    )


@pytest.fixture
def amelia(session: Session) -> Any:
    customer = make_customer(
        session, external_id="CA1", first_name="Amelia", email="amelia.hughes@example.com"
    )
    make_order(session, customer=customer, number="71043", status=OrderStatus.shipped)
    return customer


@pytest.fixture
def oliver(session: Session) -> Any:
    customer = make_customer(
        session, external_id="CO2", first_name="Oliver", email="oliver.bennett@example.com"
    )
    make_order(session, customer=customer, number="71044", status=OrderStatus.paid)
    return customer


# -- session start -------------------------------------------------------------


def test_session_start_trusts_the_gateways_verified_customer(amelia: Any) -> None:
    metadata = {"channel": "web", "customer_id": "CA1"}
    events, messages = run_action(ActionSessionStart(), _session_start_tracker(metadata))
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "slot", "slot", "action"]
    assert slot_events(events) == {
        "session_started_metadata": metadata,
        "customer_id": "CA1",
        "verified": True,
        "customer_first_name": "Amelia",
    }
    assert events[-1]["name"] == "action_listen"
    assert messages == []


def test_session_start_with_an_unknown_customer_id_stays_anonymous() -> None:
    events, _ = run_action(ActionSessionStart(), _session_start_tracker({"customer_id": "NOBODY"}))
    assert "verified" not in slot_events(events) and "customer_id" not in slot_events(events)


def test_session_start_ignores_metadata_left_from_an_earlier_session(amelia: Any) -> None:
    # The old session's metadata vouched for Amelia; this session brought none.
    earlier = [
        {"event": "slot", "name": "session_started_metadata", "value": {"customer_id": "CA1"}},
        {"event": "session_started"},
        user_event("hi", "greet"),
    ]
    tracker = _session_start_tracker(None, previous=earlier)
    tracker.slots["session_started_metadata"] = {"customer_id": "CA1"}
    events, _ = run_action(ActionSessionStart(), tracker)
    assert slot_events(events) == {}


def test_session_start_never_carries_identity_over_even_when_slots_carry(amelia: Any) -> None:
    domain = load_domain()
    domain["session_config"] = {"carry_over_slots_to_new_session": True}
    tracker = _session_start_tracker(None)
    tracker.slots.update(
        {"customer_id": "CA1", "verified": True, "customer_first_name": "Amelia", "product": "teapot"}
    )
    events, _ = run_action(ActionSessionStart(), tracker, domain)
    assert slot_events(events) == {"product": "teapot"}


# -- remembering the request ----------------------------------------------------


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


# -- the questions -----------------------------------------------------------------


def test_the_first_question_explains_why_and_a_retry_is_short() -> None:
    _, first = run_action(ActionAskVerifyFormOrderNumber(), make_tracker(text="where is my order"))
    assert texts(first) == ASK_ORDER_NUMBER
    _, retry = run_action(
        ActionAskVerifyFormOrderNumber(), make_tracker(text="x", slots={"verification_attempts": 1.0})
    )
    assert texts(retry) == ASK_ORDER_NUMBER_AGAIN


def test_the_email_question_names_the_order() -> None:
    _, messages = run_action(ActionAskVerifyFormEmail(), make_tracker(slots={"order_number": "1043"}))
    assert texts(messages) == ASK_EMAIL.format(order_number="1043")


def test_after_a_rejected_answer_the_question_does_not_say_thanks() -> None:
    rejected = [
        {"event": "action", "name": "verify_form"},
        {"event": "slot", "name": "email", "value": None},
    ]
    tracker = make_tracker(text="amelia at example", slots={"order_number": "1043"}, trailing=rejected)
    _, messages = run_action(ActionAskVerifyFormEmail(), tracker)
    assert texts(messages) == ASK_EMAIL_AGAIN.format(order_number="1043")
    rejected = [
        {"event": "action", "name": "verify_form"},
        {"event": "slot", "name": "order_number", "value": None},
    ]
    _, messages = run_action(
        ActionAskVerifyFormOrderNumber(), make_tracker(text="teapot one", trailing=rejected)
    )
    assert texts(messages) == ASK_ORDER_NUMBER_AGAIN


# -- checking answers ------------------------------------------------------------------


def test_a_malformed_email_gets_a_clear_reask(amelia: Any) -> None:
    tracker = _form_tracker(text="amelia at example dot com", slots={"order_number": "71043"})
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert texts(messages) == INVALID_EMAIL
    assert slot_events(events)["email"] is None
    assert "verified" not in slot_events(events)


def test_a_five_thousand_character_answer_is_refused_unread(amelia: Any, session: Session) -> None:
    long_text = "amelia.hughes@example.com " + "x" * 5000
    tracker = _form_tracker(text=long_text, slots={"order_number": "71043"}, sender_id="conv-long")
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert texts(messages) == INVALID_EMAIL
    assert slot_events(events)["email"] is None
    assert all(long_text[:200] not in (m.get("text") or "") for m in messages)
    assert _failures(session, "conv-long") == 0


def test_a_wall_of_text_is_an_answer_whatever_its_intent(amelia: Any) -> None:
    # NLU reads 5,000 "a"s as some intent; it is still a (bad) answer, not a new request.
    tracker = _form_tracker(text="a" * 5000, intent="change_shipping_address", requested="order_number")
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert texts(messages) == INVALID_ORDER_NUMBER
    assert slot_events(events)["order_number"] is None


def test_another_request_during_verification_is_not_taken_as_an_answer() -> None:
    tracker = _form_tracker(
        text="actually i want to cancel", intent="cancel_order", requested="order_number"
    )
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert messages == [] and slot_events(events) == {}


def test_a_malformed_order_number_gets_a_clear_reask() -> None:
    tracker = _form_tracker(text="the one with the teapot", requested="order_number")
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert texts(messages) == INVALID_ORDER_NUMBER
    assert slot_events(events)["order_number"] is None


def test_an_order_number_is_read_the_way_customers_type_it(amelia: Any) -> None:
    tracker = _form_tracker(
        text="purchase no. 00071043",
        entities=[{"entity": "order_number", "value": "purchase no. 00071043"}],
        candidates={"order_number": "purchase no. 00071043"},
        requested="order_number",
    )
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert messages == []
    assert slot_events(events) == {"order_number": "71043"}


def test_the_right_pair_passes_the_form(amelia: Any, session: Session) -> None:
    tracker = _form_tracker(
        text="Amelia.Hughes@Example.com",
        entities=[{"entity": "email", "value": "Amelia.Hughes@Example.com"}],
        candidates={"email": "Amelia.Hughes@Example.com"},
        slots={"order_number": "71043"},
        sender_id="conv-ok",
    )
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert messages == []
    assert slot_events(events) == {"email": "amelia.hughes@example.com"}
    assert _failures(session, "conv-ok") == 0


def _try(
    email: str, order_number: str, sender_id: str, attempts: float = 0.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tracker = _form_tracker(
        text=email,
        entities=[{"entity": "email", "value": email}],
        candidates={"email": email},
        slots={"order_number": order_number, "verification_attempts": attempts},
        sender_id=sender_id,
    )
    return run_action(ValidateVerifyForm(), tracker)


def test_someone_elses_order_number_gets_the_same_answer_as_an_unknown_one(
    amelia: Any, oliver: Any, session: Session
) -> None:
    # Amelia's e-mail with Oliver's order, and with an order that does not exist.
    others_events, others = _try("amelia.hughes@example.com", "71044", "conv-other")
    unknown_events, unknown = _try("amelia.hughes@example.com", "99999", "conv-unknown")
    assert texts(others) == texts(unknown)
    assert "couldn't match" in texts(others)
    assert slot_events(others_events) == slot_events(unknown_events)
    assert slot_events(others_events)["order_number"] is None
    assert slot_events(others_events)["email"] is None
    assert slot_events(others_events)["verification_attempts"] == 1.0
    assert _failures(session, "conv-other") == 1


def test_a_typed_email_with_a_wrong_order_proves_nothing(amelia: Any) -> None:
    events, messages = _try("amelia.hughes@example.com", "12345", "conv-typed")
    assert "verified" not in slot_events(events) and "customer_id" not in slot_events(events)
    assert "2 tries left" in texts(messages)


def test_the_third_miss_ends_the_form(amelia: Any, session: Session) -> None:
    _try("nobody@example.com", "71043", "conv-three", attempts=0.0)
    _try("nobody@example.com", "71043", "conv-three", attempts=1.0)
    events, messages = _try("nobody@example.com", "71043", "conv-three", attempts=2.0)
    slots = slot_events(events)
    assert slots["verification_failed"] is True
    assert slots["verification_attempts"] == 3.0
    assert slots["requested_slot"] is None  # the form stops asking
    assert messages == []  # the completion action explains and hands over
    assert _failures(session, "conv-three") == 3


def test_misses_from_an_earlier_session_of_the_conversation_count(amelia: Any, session: Session) -> None:
    for _ in range(2):
        audit(
            session, actor="anonymous", action=FAILED_ATTEMPT_ACTION, subject="conversation:conv-again"
        )
    session.flush()
    # A new session reset the slot to 0, but the CRM remembers.
    events, _ = _try("nobody@example.com", "71043", "conv-again", attempts=0.0)
    assert slot_events(events)["verification_failed"] is True


def test_a_customer_the_gateway_vouches_for_is_not_asked(amelia: Any) -> None:
    tracker = _form_tracker(text="hi", metadata={"customer_id": "CA1"}, requested="order_number")
    events, messages = run_action(ValidateVerifyForm(), tracker)
    assert messages == []
    assert slot_events(events) == {"requested_slot": None}


# -- completing -----------------------------------------------------------------------


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
    assert _failures(session, "conv-alone") == 1


def test_a_customer_id_slot_without_verification_is_not_trusted(amelia: Any) -> None:
    tracker = _completion_tracker({"customer_id": "CA1", "verified": False}, sender_id="conv-claim")
    events, _ = run_action(ActionCompleteVerification(), tracker)
    assert "verified" not in slot_events(events)


def test_the_action_server_implements_every_action_the_domain_names() -> None:
    from rasa_sdk.executor import ActionExecutor

    from tests.actions.tracker_support import load_domain

    executor = ActionExecutor()
    executor.register_package("actions")
    named = set(load_domain()["actions"])
    assert named and named <= set(executor.actions), named - set(executor.actions)
