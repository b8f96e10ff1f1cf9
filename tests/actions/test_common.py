"""actions.common: who the customer is (the gateway's metadata or the verification slot only),
and the action bases every topic module builds on."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import EventType
from sqlalchemy.orm import Session

from actions.common import (
    NEEDS_VERIFICATION,
    CustomerRun,
    PromptAction,
    VerifiedCustomerAction,
    channel,
    latest_intent,
    message_metadata,
    verified_customer,
    verified_external_id,
)
from tests.actions.tracker_support import make_tracker, run_action, user_event
from tests.factories import make_customer


def test_metadata_is_the_latest_customer_messages_or_else_the_sessions() -> None:
    earlier = user_event("hi", metadata={"channel": "sms"})
    tracker = make_tracker(metadata={"channel": "telegram", "customer_id": "C1"}, history=[earlier])
    assert message_metadata(tracker) == {"channel": "telegram", "customer_id": "C1"}
    from_session = make_tracker(slots={"session_started_metadata": {"channel": "web"}})
    from_session.events = [e for e in from_session.events if e.get("event") != "user"]
    assert message_metadata(from_session) == {"channel": "web"}
    assert message_metadata(make_tracker(slots={"session_started_metadata": "junk"})) == {}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({"channel": "sms"}, "sms"), ({}, "rasa"), ({"channel": ""}, "rasa"), ({"channel": 7}, "rasa")],
)
def test_the_channel_defaults_to_rasa(metadata: dict[str, Any], expected: str) -> None:
    assert channel(make_tracker(metadata=metadata)) == expected


@pytest.mark.parametrize(
    ("metadata", "slots", "expected"),
    [
        ({"customer_id": "C1"}, {}, "C1"),  # the gateway vouched for them
        ({}, {"customer_id": "C2", "verified": True}, "C2"),  # the verification form set it
        ({}, {"customer_id": "C2", "verified": False}, None),  # a slot without verification is not enough
        ({"customer_id": ""}, {}, None),
        ({"customer_id": ["C1"]}, {}, None),
        ({}, {}, None),
    ],
)
def test_only_the_gateway_or_the_verification_says_who_the_customer_is(
    metadata: dict[str, Any], slots: dict[str, Any], expected: str | None
) -> None:
    assert verified_external_id(make_tracker(metadata=metadata, slots=slots)) == expected


def test_the_verified_customer_is_looked_up_in_the_crm(session: Session) -> None:
    customer = make_customer(session, external_id="VC1")
    assert verified_customer(session, make_tracker(metadata={"customer_id": "VC1"})) is customer
    assert verified_customer(session, make_tracker(metadata={"customer_id": "NOBODY"})) is None
    assert verified_customer(session, make_tracker()) is None


def test_latest_intent() -> None:
    assert latest_intent(make_tracker(intent="track_order")) == "track_order"
    assert latest_intent(make_tracker(intent=None)) is None


class _Ask(PromptAction):
    text = "Which order?"
    buttons = [{"title": "#1043", "payload": "/inform"}]

    def name(self) -> str:
        return "action_ask_test"


class _Greet(VerifiedCustomerAction):
    def __init__(self) -> None:
        self.runs: list[CustomerRun] = []

    def name(self) -> str:
        return "action_greet_test"

    def act(self, run: CustomerRun) -> list[EventType]:
        self.runs.append(run)
        run.dispatcher.utter_message(text=f"Hello {run.customer.first_name}")
        return [{"event": "slot", "name": "verified", "value": True}]


def test_a_prompt_says_its_text_and_buttons_and_nothing_else() -> None:
    events, messages = run_action(_Ask(), make_tracker())
    assert events == []
    assert [(m["text"], m["buttons"]) for m in messages] == [
        ("Which order?", [{"title": "#1043", "payload": "/inform"}])]


@pytest.mark.usefixtures("crm")
def test_a_verified_customer_action_acts_only_for_a_verified_customer(session: Session) -> None:
    make_customer(session, external_id="VC2", first_name="Vera")
    greet = _Greet()
    events, messages = run_action(greet, make_tracker(metadata={"customer_id": "VC2"}))
    assert [m["text"] for m in messages] == ["Hello Vera"]
    assert events == [{"event": "slot", "name": "verified", "value": True}]
    assert [run.customer.external_id for run in greet.runs] == ["VC2"]
    events, messages = run_action(greet, make_tracker(slots={"customer_id": "VC2"}))  # not verified
    assert ([m["text"] for m in messages], events) == ([NEEDS_VERIFICATION], [])
    assert len(greet.runs) == 1
