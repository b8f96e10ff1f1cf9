"""The gateway owns the handoff: one queue row per handoff turn, whatever happens to the turn.

Rasa (here tests/fakes/rasa.py) only sends the packet; the conversation
service queues it when it stores the turn's replies. A turn whose replies are
written behind after a database failure, closed by the recovery pass after a
crash, resent by the customer after an apology, redelivered, or recovered by
two gateways at once, still queues exactly one handoff. (Storing the same
replies twice, and the priority: tests/bot/persistence/test_handoffs.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot.conversations import Outcome
from bot.core.messages import InboundMessage
from bot.persistence import claims
from bot.persistence import replies as turn_replies
from bot.recovery import TurnPolicy
from crm.models import (
    Conversation,
    ConversationState,
    Delivery,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
    TurnState,
)
from tests.fakes.rasa import RasaCall
from tests.fakes.rigs import ServiceRig, metric

pytestmark = pytest.mark.asyncio

PASSING_ON = "I'm passing you to a member of our team."
# Every open turn is "abandoned" a moment later; stored replies are owed at once.
QUICK = TurnPolicy(lease=timedelta(milliseconds=50), interval_seconds=3600, delivery_grace=timedelta(0))


def hands_off(call: RasaCall) -> list[dict[str, Any]]:
    """Rasa after action_handoff: the words, then the packet."""
    packet = {
        "reason": "request_human",
        "intent": "request_human",
        "slots": {},
        "order_numbers": [],
        "customer_id": call.metadata.get("customer_id"),
    }
    return [
        {"recipient_id": call.sender, "text": PASSING_ON},
        {"recipient_id": call.sender, "custom": {"handoff": packet}},
    ]


def inbound(conversation_id: str, client_id: str, text: str = "a person please") -> InboundMessage:
    return InboundMessage(
        channel="web",
        conversation_id=conversation_id,
        channel_message_id=f"{conversation_id}:{client_id}",
        text=text,
    )


def handoffs(rig: ServiceRig, conversation_id: str) -> list[Handoff]:
    with rig.db() as session:
        return list(session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)))


def state(rig: ServiceRig, conversation_id: str) -> ConversationState:
    with rig.db() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        return row.state


def turn(rig: ServiceRig, conversation_id: str) -> TurnState | None:
    with rig.db() as session:
        return session.scalar(
            select(Message.turn_state).where(
                Message.conversation_id == conversation_id, Message.sender == Sender.customer
            )
        )


async def crash_mid_turn(rig: ServiceRig, conversation_id: str) -> None:
    """Kill a turn while Rasa thinks, as kill -9 would (no clean-up runs)."""
    rig.rasa.delay = 5
    task = rig.service.submit(inbound(conversation_id, "1"))
    while not rig.rasa.calls_for(conversation_id):
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    rig.rasa.delay = 0


async def test_a_handoff_turn_queues_one_handoff(rig: ServiceRig) -> None:
    rig.rasa.reply = hands_off
    conversation = await rig.conversation()
    assert await rig.service.handle(inbound(conversation.id, "1")) is Outcome.answered
    [handoff] = handoffs(rig, conversation.id)
    assert (handoff.reason, handoff.status) == ("request_human", HandoffStatus.queued)
    assert state(rig, conversation.id) == ConversationState.queued
    assert metric(rig.metrics, "gateway_handoffs_total", {"channel": "web"}) == 1
    # Held from now on: the bot is not asked, and nothing more is queued.
    assert await rig.service.handle(inbound(conversation.id, "2", "hello?")) is Outcome.held
    assert len(handoffs(rig, conversation.id)) == 1 and len(rig.rasa.calls) == 1


async def test_replies_the_database_refused_are_written_behind_with_one_handoff(
    rig: ServiceRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.rasa.reply = hands_off
    conversation = await rig.conversation()
    real = turn_replies.save_bot_replies
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(turn_replies, "save_bot_replies", flaky)
    assert await rig.service.handle(inbound(conversation.id, "1")) is Outcome.answered
    assert rig.channel.texts(conversation.id) == [PASSING_ON]  # the customer heard it at once
    assert handoffs(rig, conversation.id) == []  # nothing half-written
    await rig.service.turns.recover_once()
    await rig.service.turns.recover_once()
    assert len(handoffs(rig, conversation.id)) == 1
    assert state(rig, conversation.id) == ConversationState.queued
    assert turn(rig, conversation.id) == TurnState.answered


async def test_a_handoff_turn_answered_just_before_a_crash_is_closed_with_its_one_handoff(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    first.rasa.reply = hands_off
    conversation = await first.conversation()
    await first.service.handle(inbound(conversation.id, "1"))
    with first.db() as session:  # the turn's mark never made it
        session.execute(
            update(Message)
            .where(Message.conversation_id == conversation.id, Message.sender == Sender.customer)
            .values(turn_state=TurnState.processing)
        )
        session.commit()
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    assert await restarted.service.turns.recover_once() == 1
    assert turn(restarted, conversation.id) == TurnState.answered
    assert len(handoffs(restarted, conversation.id)) == 1
    assert len(first.rasa.calls) == 1  # not asked again


async def test_a_handoff_turn_cut_off_by_a_crash_and_resent_queues_one_handoff(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    first.rasa.reply = hands_off
    conversation = await first.conversation()
    await crash_mid_turn(first, conversation.id)
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    assert await restarted.service.turns.recover_once() == 1  # the apology
    assert turn(restarted, conversation.id) == TurnState.apologised
    assert handoffs(restarted, conversation.id) == []
    # The customer sends it again (same client id): the turn runs again, and hands off once.
    assert await restarted.service.handle(inbound(conversation.id, "1")) is Outcome.answered
    assert len(handoffs(restarted, conversation.id)) == 1
    assert state(restarted, conversation.id) == ConversationState.queued
    # Resent once more: answered now, so a duplicate.
    assert await restarted.service.handle(inbound(conversation.id, "1")) is Outcome.duplicate
    assert len(handoffs(restarted, conversation.id)) == 1


async def test_a_handoff_turn_two_gateways_recover_at_once_queues_one_handoff(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    first.rasa.reply = hands_off
    conversations = [await first.conversation(address=f"a{i}") for i in range(3)]
    for conversation in conversations:
        # Stored and acknowledged, then the gateway stopped before its turn began.
        with first.db() as session:
            assert claims.claim_inbound(session, inbound=inbound(conversation.id, "1")) is not None
            session.commit()
    a, b = make_rig(turn_policy=QUICK), make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    await asyncio.gather(a.service.turns.recover_once(), b.service.turns.recover_once())
    await asyncio.gather(a.service.aclose(timeout=5), b.service.aclose(timeout=5))
    for conversation in conversations:
        assert len(handoffs(first, conversation.id)) == 1, conversation.id
        assert state(first, conversation.id) == ConversationState.queued
        assert len(first.rasa.calls_for(conversation.id)) == 1


async def test_a_handoff_reply_stored_but_never_sent_is_redelivered_without_a_second_handoff(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    first.rasa.reply = hands_off
    conversation = await first.conversation()
    await first.service.handle(inbound(conversation.id, "1"))
    await first.service.deliveries.settled()
    with first.db() as session:  # as if the gateway died between storing and sending
        session.execute(
            update(Message)
            .where(Message.conversation_id == conversation.id, Message.text == PASSING_ON)
            .values(delivery=Delivery.pending)
        )
        session.commit()
    restarted = make_rig(turn_policy=QUICK)
    await restarted.service.turns.recover_once()
    assert restarted.channel.texts(conversation.id) == [PASSING_ON]
    assert len(handoffs(restarted, conversation.id)) == 1
