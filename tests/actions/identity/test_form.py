"""actions.identity.form: the verification form's questions and how it checks each answer."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from actions.identity import (
    ASK_EMAIL,
    ASK_EMAIL_AGAIN,
    ASK_ORDER_NUMBER,
    ASK_ORDER_NUMBER_AGAIN,
    FAILED_ATTEMPT_ACTION,
    INVALID_EMAIL,
    INVALID_ORDER_NUMBER,
    ActionAskVerifyFormEmail,
    ActionAskVerifyFormOrderNumber,
    ValidateVerifyForm,
)
from crm.services.audit import audit
from tests.actions.identity.support import failed_attempts_of
from tests.actions.tracker_support import make_tracker, run_action, slot_events, texts, user_event

pytestmark = pytest.mark.usefixtures("crm")


FORM = {"name": "verify_form"}


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
    assert failed_attempts_of(session, "conv-long") == 0


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
    assert failed_attempts_of(session, "conv-ok") == 0


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
    assert failed_attempts_of(session, "conv-other") == 1


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
    assert failed_attempts_of(session, "conv-three") == 3


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
