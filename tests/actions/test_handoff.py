"""Handing over to a person: the packet, what the gateway queues from it, the customer's message.

The action only sends the packet; `_queued` hands it to the gateway's own
function (bot/persistence/handoffs.py), as the gateway does when it stores the
turn's replies, so these tests pin down the queue row the packet becomes.
That the action itself writes nothing: tests/actions/test_handoff_packet.py.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import actions.handoff
from actions.handoff import (
    ALREADY_QUEUED,
    MESSAGES,
    ActionHandoff,
    asks_only_for_contact_details,
)
from bot.persistence.handoffs import queue_handoff
from crm.models import Conversation, Handoff
from crm.services.conversations import PRIORITY_COMPLAINT, PRIORITY_VERIFICATION_FAILED, PRIORITY_VIP
from crm.shop import load_shop_profile
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
    user_event,
)
from tests.factories import make_conversation, make_customer, make_handoff, make_order

pytestmark = pytest.mark.usefixtures("crm")

# A Wednesday at 11:00 in London: the team is in.
OPEN = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)
# A Sunday: closed until Monday 09:00.
SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def team_is_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions.handoff, "utcnow", lambda: OPEN)


def _handoffs(session: Session, conversation_id: str) -> list[Handoff]:
    session.expire_all()
    return list(session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)))


def _payload(messages: list[dict[str, Any]]) -> dict[str, Any]:
    [custom] = [m["custom"] for m in messages if m.get("custom")]
    return custom["handoff"]


def _queued(session: Session, conversation_id: str, messages: list[dict[str, Any]]) -> list[Handoff]:
    """The handoffs of the conversation once the gateway has queued the action's packet."""
    if session.get(Conversation, conversation_id) is None:
        # The gateway created it before Rasa saw the customer's first message.
        make_conversation(session, conversation_id=conversation_id)
    queued = queue_handoff(session, conversation_id=conversation_id, packet=_payload(messages))
    assert queued is not None
    return _handoffs(session, conversation_id)


def test_asking_for_a_person_queues_a_handoff_and_tells_the_gateway(session: Session) -> None:
    tracker = make_tracker(
        text="i want to talk to a human",
        intent="request_human",
        metadata={"channel": "web"},
        sender_id="conv-h1",
    )
    events, messages = run_action(ActionHandoff(), tracker)

    assert _payload(messages) == {
        "reason": "request_human", "intent": "request_human", "slots": {}, "order_numbers": [],
        "customer_id": None,
    }
    [handoff] = _queued(session, "conv-h1", messages)
    assert (handoff.reason, handoff.intent, handoff.verified, handoff.priority) == (
        "request_human", "request_human", False, 0,
    )
    assert MESSAGES["request_human"] in texts(messages)
    # handoff_offered is left alone (see ActionHandoff): the rules condition on it.
    assert slot_events(events) == {"handoff_reason": None}


def test_a_vip_complaint_goes_to_the_front_of_the_queue(session: Session) -> None:
    vip = make_customer(session, external_id="CVIP")
    make_order(session, customer=vip, total="800.00")
    tracker = make_tracker(
        text="this is a disgrace, i want to complain",
        intent="complaint",
        metadata={"customer_id": "CVIP", "channel": "telegram"},
        sender_id="conv-h2",
    )
    _, messages = run_action(ActionHandoff(), tracker)

    assert _payload(messages)["customer_id"] == "CVIP"
    [handoff] = _queued(session, "conv-h2", messages)
    assert handoff.reason == "complaint"
    assert handoff.priority == PRIORITY_COMPLAINT + PRIORITY_VIP
    assert handoff.verified is True and handoff.customer_id == vip.id
    assert texts(messages).startswith("I'm really sorry")


def test_failed_verification_hands_over_what_the_customer_tried(session: Session) -> None:
    tracker = make_tracker(
        text="jo@example.com",
        intent="inform",
        entities=[{"entity": "email", "value": "jo@example.com"}],
        history=[
            user_event("where is my order", "track_order"),
            user_event("#1043", "inform", [{"entity": "order_number", "value": "#1043"}]),
            user_event("order 00001043 and 2207", "inform", [
                {"entity": "order_number", "value": "order 00001043"},
                {"entity": "order_number", "value": "2207"},
            ]),
        ],
        slots={
            "handoff_reason": "verification_failed",
            "pending_request": "track_order",
            "order_number": "2207",
            "email": "jo@example.com",
            "verification_attempts": 3.0,
            "session_started_metadata": {"channel": "web"},
            "requested_slot": "email",
        },
        sender_id="conv-h3",
    )
    events, messages = run_action(ActionHandoff(), tracker)

    [handoff] = _queued(session, "conv-h3", messages)
    assert (handoff.reason, handoff.intent) == ("verification_failed", "track_order")
    assert handoff.priority == PRIORITY_VERIFICATION_FAILED
    assert handoff.order_numbers == ["1043", "2207"]
    assert handoff.slots == {
        "pending_request": "track_order",
        "order_number": "2207",
        "email": "jo@example.com",
        "verification_attempts": 3.0,
    }
    assert MESSAGES["verification_failed"] in texts(messages)
    assert slot_events(events)["handoff_reason"] is None


def test_two_fallbacks_hand_off_with_reason_fallback(session: Session) -> None:
    tracker = make_tracker(
        text="flibber the wotsit", intent="nlu_fallback",
        history=[user_event("grmbl", "nlu_fallback")], sender_id="conv-h4",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    assert _payload(messages)["reason"] == "fallback"
    [handoff] = _queued(session, "conv-h4", messages)
    assert (handoff.reason, handoff.intent) == ("fallback", "nlu_fallback")


def test_a_contact_question_gets_contact_details_and_an_offer_not_a_ticket(session: Session) -> None:
    tracker = make_tracker(text="what's your phone number?", intent="request_human", sender_id="conv-h5")
    events, messages = run_action(ActionHandoff(), tracker)

    profile = load_shop_profile()
    said = texts(messages)
    assert profile.contact.phone in said and profile.contact.email in said
    assert profile.contact.hours in said
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(events) == {"handoff_offered": True}
    assert not [m for m in messages if m.get("custom")]  # no packet: nothing for the gateway to queue
    assert _handoffs(session, "conv-h5") == []


def test_yes_to_the_offer_hands_off_for_the_original_request(session: Session) -> None:
    tracker = make_tracker(
        text="yes please", intent="affirm",
        history=[user_event("how can i reach you", "request_human")],
        slots={"handoff_offered": True}, sender_id="conv-h6",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    [handoff] = _queued(session, "conv-h6", messages)
    assert (handoff.reason, handoff.intent) == ("request_human", "request_human")


def test_the_talk_to_a_person_button_always_hands_off(session: Session) -> None:
    tracker = make_tracker(text="/request_human", intent="request_human", sender_id="conv-h7")
    _, messages = run_action(ActionHandoff(), tracker)
    assert len(_queued(session, "conv-h7", messages)) == 1


def test_an_open_handoff_is_not_queued_twice(session: Session) -> None:
    conversation = make_conversation(session, conversation_id="conv-h8")
    existing = make_handoff(session, conversation=conversation, reason="fallback", priority=0)
    tracker = make_tracker(text="hello?? i want a human", intent="request_human", sender_id="conv-h8")
    _, messages = run_action(ActionHandoff(), tracker)
    assert ALREADY_QUEUED in texts(messages)
    assert [h.id for h in _queued(session, "conv-h8", messages)] == [existing.id]


def test_an_unknown_gateway_customer_is_not_verified(session: Session) -> None:
    tracker = make_tracker(
        text="human please", intent="request_human", metadata={"customer_id": "NOBODY"}, sender_id="conv-h9"
    )
    _, messages = run_action(ActionHandoff(), tracker)
    assert _payload(messages)["customer_id"] is None
    [handoff] = _queued(session, "conv-h9", messages)
    assert handoff.verified is False and handoff.customer_id is None


def test_a_claimed_customer_id_slot_without_verification_is_not_trusted(session: Session) -> None:
    make_customer(session, external_id="CCLAIM")
    tracker = make_tracker(
        text="human please", intent="request_human",
        slots={"customer_id": "CCLAIM", "verified": False}, sender_id="conv-h10",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    [handoff] = _queued(session, "conv-h10", messages)
    assert handoff.customer_id is None and handoff.verified is False


def test_a_five_thousand_character_message_still_hands_off_with_bounded_slots(session: Session) -> None:
    essay = "I am very unhappy with my order and " * 139
    tracker = make_tracker(
        text=essay[:5000], intent="complaint", slots={"product": essay[:5000]}, sender_id="conv-h11"
    )
    _, messages = run_action(ActionHandoff(), tracker)
    [handoff] = _queued(session, "conv-h11", messages)
    assert handoff.reason == "complaint"
    assert len(handoff.slots["product"]) == 200


def test_out_of_hours_the_customer_hears_when_the_team_is_back(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions.handoff, "utcnow", lambda: SUNDAY)
    tracker = make_tracker(text="get me a person", intent="request_human", sender_id="conv-h12")
    _, messages = run_action(ActionHandoff(), tracker)
    assert "back tomorrow at 09:00" in texts(messages)
    assert len(_queued(session, "conv-h12", messages)) == 1


def test_in_hours_no_closing_note() -> None:
    tracker = make_tracker(text="get me a person", intent="request_human", sender_id="conv-h13")
    _, messages = run_action(ActionHandoff(), tracker)
    assert "away right now" not in texts(messages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's your phone number", True),
        ("how do i contact customer service", True),
        ("when are you open", True),
        ("what's your email address", True),
        ("can i speak to someone", False),
        ("is there a number i can call to talk to a real person", False),
        ("i want to talk to a human", False),
        ("agent", False),
        ("/request_human", False),
        (None, False),
    ],
)
def test_asks_only_for_contact_details(text: str | None, expected: bool) -> None:
    assert asks_only_for_contact_details(text) is expected
