"""bot/persistence: each idea once - conversation rows, the inbound claim, the transcript, states, the queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.db import run_unit
from bot.core.messages import BotReply, Button, InboundMessage
from bot.persistence import claims, queue, replies, rows, states, transcript
from crm.models import Customer, StaffRole
from crm.vocabulary import ConversationState, Sender
from tests.bot.staff_support import create_staff

T = TypeVar("T")


@pytest.fixture
def unit(db: sessionmaker[Session]) -> Callable[..., Any]:
    def run(fn: Callable[..., T], /, **kwargs: Any) -> T:
        return run_unit(db, fn, **kwargs)

    return run


def _start(unit: Callable[..., Any], address: str = "addr", customer: str | None = None) -> Any:
    return unit(
        rows.create_conversation, channel="web", address=address, customer_external_id=customer, locale="en"
    )


def _pressed(conversation_id: str, message_id: str, payload: str) -> InboundMessage:
    return InboundMessage(
        channel="web",
        conversation_id=conversation_id,
        channel_message_id=message_id,
        payload=payload,
        payload_title=payload.strip("/").title(),
    )


def test_rows_create_find_and_bind_a_customer_once(unit: Callable[..., Any], customer: Customer) -> None:
    first = _start(unit)
    assert first.state is ConversationState.bot and first.customer_external_id is None
    assert unit(rows.find_conversation, channel="web", address="addr").id == first.id
    bound = unit(rows.bind_customer, conversation_id=first.id, customer_external_id="C001")
    assert bound.customer_external_id == "C001"
    with pytest.raises(LookupError):
        _start(unit, customer="C404")
    assert unit(rows.bind_customer, conversation_id="nope", customer_external_id="C001") is None


def test_the_claim_stores_a_message_once_and_refuses_a_button_never_offered(unit: Callable[..., Any]) -> None:
    conversation = _start(unit)
    message = InboundMessage(
        channel="web", conversation_id=conversation.id, channel_message_id="m1", text="hi"
    )
    first = unit(claims.claim_inbound, inbound=message)
    assert first is not None and first.text == "hi" and first.rejection is None
    assert unit(claims.claim_inbound, inbound=message) is None  # the redelivery is a duplicate
    stale = _pressed(conversation.id, "m2", "/never")
    refused = unit(claims.claim_inbound, inbound=stale)
    assert refused is not None and refused.rejection == "bad_payload"


def test_a_button_in_the_bots_latest_turn_is_accepted(unit: Callable[..., Any]) -> None:
    conversation = _start(unit)
    unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[BotReply(text="Which?", buttons=(Button("A", "/a"),))],
    )
    assert unit(transcript.offered_payloads, conversation_id=conversation.id) == {"/a"}
    pressed = _pressed(conversation.id, "m3", "/a")
    assert unit(claims.claim_inbound, inbound=pressed).rejection is None


def test_the_transcript_hides_bare_signals_and_suppressed_replies(unit: Callable[..., Any]) -> None:
    conversation = _start(unit)
    unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[BotReply(text="One moment"), BotReply(custom={"handoff": {"reason": "request_human"}})],
    )
    # The conversation is queued now: a reply expecting the bot's state is stored suppressed.
    late = unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[BotReply(text="too late")],
    )
    assert late.suppressed and late.visible == []
    lines = unit(transcript.transcript, conversation_id=conversation.id, limit=50)
    assert [(e.sender, e.text) for e in lines] == [(Sender.bot, "One moment")]


def test_states_assign_is_a_compare_and_set_and_resolve_needs_the_holder(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    sam = create_staff(db, name="Sam Carter", role=StaffRole.agent)
    kim = create_staff(db, name="Kim Lee", role=StaffRole.agent)
    taken = unit(
        states.assign_conversation, conversation_id=conversation.id, staff_id=sam, may_take_over=False
    )
    assert taken.previous_state is ConversationState.bot and taken.notice is not None
    with pytest.raises(states.TransitionRefused) as refused:
        unit(states.assign_conversation, conversation_id=conversation.id, staff_id=kim, may_take_over=False)
    assert refused.value.reason == "taken"
    with pytest.raises(states.TransitionRefused):
        unit(states.resolve_conversation, conversation_id=conversation.id, staff_id=kim, may_take_over=False)
    resolved = unit(
        states.resolve_conversation, conversation_id=conversation.id, staff_id=sam, may_take_over=False
    )
    assert resolved.conversation.state is ConversationState.resolved
    assert unit(states.finish_resume, conversation_id=conversation.id)
    assert not unit(states.finish_resume, conversation_id=conversation.id)  # only once


def test_the_queue_lists_only_the_conversations_waiting_for_staff(unit: Callable[..., Any]) -> None:
    waiting = [_start(unit, address=f"a{i}") for i in range(2)]
    for conversation in waiting:
        unit(
            replies.save_bot_replies,
            conversation_id=conversation.id,
            channel="web",
            replies=[BotReply(custom={"handoff": {"reason": "request_human"}})],
        )
    _start(unit, address="not-waiting")
    # (Priority, then waiting time, orders it: tests/bot/test_handoff.py.)
    assert {e.conversation_id for e in unit(queue.queue)} == {c.id for c in waiting}
