"""The takeover race: a staff assignment while a bot reply is in flight
produces no bot message after the assignment, on this gateway or another."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.conversations import Outcome, staff_conversation_key
from crm.models import ConversationState, HandoffStatus, Sender
from tests.bot.staff_support import HANDOFF_TEXT, PERSON, HandoffRig, build_rig
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.asyncio


@pytest.fixture
def rig(handoff_rig: HandoffRig) -> HandoffRig:
    return handoff_rig


def after_assignment(rig: HandoffRig, conversation_id: str) -> list[tuple[Sender, str]]:
    """What the customer received from the "… has joined" notice on."""
    sent = [(o.sender, o.text) for cid, o in rig.channel.sent if cid == conversation_id]
    joined = next(i for i, (_, text) in enumerate(sent) if "has joined" in text)
    return sent[joined:]


async def wait_for_rasa_call(rig: HandoffRig, count: int) -> None:
    while len(rig.rasa.fake.calls) < count:
        await asyncio.sleep(0.005)


async def test_a_bot_reply_in_flight_when_staff_take_over_is_kept_but_never_sent(rig: HandoffRig) -> None:
    conversation = await rig.conversation()
    sam = rig.staff("Sam Carter")
    rig.rasa.fake.delay = 0.5
    turn = asyncio.create_task(rig.say(conversation.id, "where is my parcel?"))
    await wait_for_rasa_call(rig, 1)
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert await turn is Outcome.held

    assert after_assignment(rig, conversation.id) == [
        (Sender.system, "Sam Carter from our team has joined the chat.")
    ]
    assert not any(o.sender is Sender.bot for _, o in rig.channel.sent)
    # Stored for the record, marked, and left out of what the customer's history shows.
    bot = [m for m in rig.messages(conversation.id) if m.sender is Sender.bot]
    assert [(m.text, m.data) for m in bot] == [("echo: where is my parcel?", {"suppressed": True})]
    history = await rig.service.transcript(conversation_id=conversation.id)
    assert [e.sender for e in history] == [Sender.customer, Sender.system]
    # The console is told to redraw, so staff see the reply that was held back.
    assert {"type": "reload"} in rig.fanout.of(staff_conversation_key(conversation.id))
    with rig.db() as session:
        from crm.models import Conversation

        assert session.get(Conversation, conversation.id).state == ConversationState.assigned  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", range(12))
async def test_whatever_the_timing_no_bot_message_follows_the_assignment(rig: HandoffRig, seed: int) -> None:
    timing = random.Random(seed)
    conversation = await rig.conversation()
    sam = rig.staff("Sam Carter")
    rig.rasa.fake.delay = 0.04
    turn = asyncio.create_task(rig.say(conversation.id, "hello"))
    await asyncio.sleep(timing.uniform(0.0, 0.12))
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    outcome = await turn
    after = after_assignment(rig, conversation.id)
    assert all(sender is not Sender.bot for sender, _ in after), after
    stored = [m for m in rig.messages(conversation.id) if m.sender is Sender.bot]
    delivered = [o for _, o in rig.channel.sent if o.sender is Sender.bot]
    # Either the bot was quicker (its reply went out before the notice), or it was held back
    # (its reply stored for the record only), or - on a busy machine - the person was in
    # before the turn began, and the message went to them without asking the bot at all.
    if outcome is Outcome.answered:
        assert [o.text for o in delivered] == ["echo: hello"] and not stored[0].data
    else:
        assert outcome is Outcome.held and delivered == []
        assert [m.data for m in stored] in ([{"suppressed": True}], []), stored
        assert stored or rig.rasa.fake.calls == []


async def test_taking_over_during_a_handoff_turn_keeps_one_packet_with_the_person_who_took_it(
    rig: HandoffRig,
) -> None:
    conversation = await rig.conversation()
    sam = rig.staff("Sam Carter")
    rig.rasa.fake.delay = 0.3
    turn = asyncio.create_task(rig.say(conversation.id, PERSON))
    await wait_for_rasa_call(rig, 1)
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert await turn is Outcome.held
    assert HANDOFF_TEXT not in rig.channel.texts(conversation.id)
    assert not any("queue" in t for t in rig.channel.texts(conversation.id))
    # The takeover's packet and the one the bot recorded meanwhile are both Sam's; nothing waits in the queue.
    assert {(h.status, h.assigned_to_id) for h in rig.handoffs(conversation.id)} == {
        (HandoffStatus.assigned, sam)
    }
    from bot.persistence.queue import queue

    with rig.db() as session:
        assert queue(session) == []


async def test_no_apology_when_rasa_fails_after_a_person_took_over(rig: HandoffRig) -> None:
    conversation = await rig.conversation()
    sam = rig.staff("Sam Carter")
    rig.rasa.fake.delay = 0.3
    rig.rasa.fake.mode = "error"
    turn = asyncio.create_task(rig.say(conversation.id, "hello"))
    await wait_for_rasa_call(rig, 1)
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert await turn is Outcome.held
    assert after_assignment(rig, conversation.id) == [
        (Sender.system, "Sam Carter from our team has joined the chat.")
    ]


async def test_an_assignment_on_another_gateway_also_silences_the_reply_in_flight(
    db: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    # Two services share only the database, like two gateway processes.
    turns, http_a = build_rig(db, fake_rasa)
    console, http_b = build_rig(db, fake_rasa)
    try:
        conversation = await turns.conversation()
        sam = turns.staff("Sam Carter")
        fake_rasa.delay = 0.4
        turn = asyncio.create_task(turns.say(conversation.id, "hello"))
        await wait_for_rasa_call(turns, 1)
        await console.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
        assert await turn is Outcome.held
        assert not any(o.sender is Sender.bot for _, o in turns.channel.sent)
        assert [m.data for m in turns.messages(conversation.id) if m.sender is Sender.bot] == [
            {"suppressed": True}
        ]
    finally:
        for rig, http in ((turns, http_a), (console, http_b)):
            await rig.service.aclose(timeout=5)
            await http.aclose()
