"""The action server decides, the gateway writes: handoff actions create no Handoff or Conversation rows.

`action_handoff` only sends the packet, and in-chat verification only links an
existing conversation; the gateway creates conversation rows and queues
handoffs (bot/persistence/handoffs.py). The last test runs the real action's
packet through the gateway's Rasa parser and reply store: the two sides agree
on its shape.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import actions.handoff
from actions.handoff import MESSAGES, ActionHandoff
from actions.identity import ActionCompleteVerification
from bot.persistence.replies import save_bot_replies
from bot.rasa import parse_replies
from crm.models import (
    Conversation,
    ConversationState,
    Handoff,
    HandoffStatus,
    Message,
    ReviewItem,
    Sender,
)
from crm.services.conversations import PRIORITY_COMPLAINT, PRIORITY_VIP
from tests.actions.tracker_support import make_tracker, run_action, slot_events, user_event
from tests.factories import make_conversation, make_customer, make_message, make_order

pytestmark = pytest.mark.usefixtures("crm")

OPEN = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # a Wednesday morning: the team is in


@pytest.fixture(autouse=True)
def team_is_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions.handoff, "utcnow", lambda: OPEN)


def _rows(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Conversation, Handoff, ReviewItem)
    }


def _as_rest(messages: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    """The dispatcher's messages as Rasa's REST channel hands them to the gateway."""
    return [{"recipient_id": sender, **{k: v for k, v in m.items() if v}} for m in messages]


def test_a_handoff_without_a_gateway_row_writes_nothing(session: Session) -> None:
    before = _rows(session)
    tracker = make_tracker(
        text="i want to talk to a human",
        intent="request_human",
        metadata={"channel": "web"},
        sender_id="conv-p1",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    [packet] = [m["custom"]["handoff"] for m in messages if m.get("custom")]
    assert packet["reason"] == "request_human"
    # No conversation created for the sender, no queue row, no review entry: all the gateway's.
    assert _rows(session) == before
    assert session.get(Conversation, "conv-p1") is None


def test_a_verified_complaint_leaves_the_gateways_conversation_as_it_was(session: Session) -> None:
    vip = make_customer(session, external_id="CVIP2")
    make_order(session, customer=vip, total="800.00")
    conversation = make_conversation(session, conversation_id="conv-p2", channel="telegram")
    make_message(session, conversation=conversation, text="this is a disgrace")
    before = _rows(session)
    tracker = make_tracker(
        text="this is a disgrace",
        intent="complaint",
        metadata={"customer_id": "CVIP2", "channel": "telegram"},
        sender_id="conv-p2",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    [packet] = [m["custom"]["handoff"] for m in messages if m.get("custom")]
    assert (packet["reason"], packet["customer_id"]) == ("complaint", "CVIP2")
    assert "priority" not in packet and "id" not in packet  # the gateway's to decide
    assert _rows(session) == before
    assert (conversation.state, conversation.customer_id) == (ConversationState.bot, None)


def test_verification_without_a_gateway_row_verifies_but_creates_no_conversation(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    priya = make_customer(session, external_id="CP3", first_name="Priya", email="priya@example.com")
    order = make_order(session, customer=priya, number="73001")
    before = _rows(session)
    tracker = make_tracker(
        text="priya@example.com",
        intent="inform",
        slots={"order_number": order.number, "email": "priya@example.com"},
        sender_id="conv-p3",
        history=[user_event("where is my order", "track_order")],
    )
    with caplog.at_level(logging.INFO, logger="actions.identity.complete"):
        events, _ = run_action(ActionCompleteVerification(), tracker)
    assert slot_events(events)["verified"] is True
    assert _rows(session) == before
    assert session.get(Conversation, "conv-p3") is None
    assert "no conversation row" in caplog.text
    assert "priya@example.com" not in caplog.text


def test_the_actions_packet_read_by_the_gateway_becomes_one_queue_row(session: Session) -> None:
    vip = make_customer(session, external_id="CVIP4")
    make_order(session, customer=vip, total="900.00")
    conversation = make_conversation(session, conversation_id="conv-p4", customer=vip)
    make_message(session, conversation=conversation, text="my parcel 1043 arrived broken, i want to complain")
    tracker = make_tracker(
        text="my parcel 1043 arrived broken, i want to complain",
        intent="complaint",
        entities=[{"entity": "order_number", "value": "1043"}],
        metadata={"customer_id": "CVIP4", "channel": "web"},
        slots={"order_number": "1043"},
        sender_id="conv-p4",
    )
    _, messages = run_action(ActionHandoff(), tracker)
    answer = parse_replies(_as_rest(messages, "conv-p4"))

    saved = save_bot_replies(session, conversation_id="conv-p4", channel="web", replies=answer)

    [handoff] = session.scalars(select(Handoff).where(Handoff.conversation_id == "conv-p4")).all()
    assert (handoff.reason, handoff.intent, handoff.status) == (
        "complaint",
        "complaint",
        HandoffStatus.queued,
    )
    assert handoff.priority == PRIORITY_COMPLAINT + PRIORITY_VIP
    assert (handoff.verified, handoff.customer_id) == (True, vip.id)
    assert handoff.order_numbers == ["1043"] and handoff.slots == {"order_number": "1043"}
    assert saved.handoff and saved.queued is not None and saved.queued.id == handoff.id
    session.expire_all()
    assert session.get(Conversation, "conv-p4").state == ConversationState.queued  # type: ignore[union-attr]
    assert [m.text for m in saved.visible] == [MESSAGES["complaint"]]
    stored = session.scalars(
        select(Message).where(Message.conversation_id == "conv-p4", Message.sender == Sender.bot)
    ).all()
    assert stored[-1].data == {
        "custom": {"handoff": {"id": handoff.id, "reason": "complaint", "priority": 20, "verified": True}}
    }
