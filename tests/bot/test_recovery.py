"""Every acknowledged message ends in a reply or an apology: turn state, database faults, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bot.conversations import Outcome, Receipt
from bot.persistence import claims, rows
from bot.persistence import replies as turn_replies
from bot.recovery import TurnPolicy
from crm.models import Conversation, ConversationState, Message, Sender, TurnState
from tests.fakes.rigs import ServiceRig, inbound, messages_of, metric

pytestmark = pytest.mark.asyncio

APOLOGY = "Sorry — I'm having trouble answering right now."
# Leases this short make every open turn "abandoned" a moment later.
QUICK = TurnPolicy(lease=timedelta(milliseconds=50), interval_seconds=3600)


def turn_of(rig: ServiceRig, conversation_id: str) -> tuple[TurnState | None, str | None]:
    customer = [m for m in messages_of(rig.db, conversation_id) if m.sender == Sender.customer]
    assert len(customer) == 1
    return customer[0].turn_state, customer[0].turn_reason


# Where each function the tests break is looked up at run time.
_PERSISTENCE = {
    "turn_context": turn_replies,
    "save_bot_replies": turn_replies,
    "get_conversation": rows,
}


def fail_once(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Make the persistence function <name> raise a database error the first time it runs."""
    module = _PERSISTENCE[name]
    real = getattr(module, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return calls


# -- the normal path leaves a closed turn -------------------------------------------------


async def test_an_answered_message_is_marked_answered(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.answered
    assert turn_of(rig, conversation.id) == (TurnState.answered, None)


async def test_an_apology_is_marked_with_its_reason_and_counted(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.mode = "down"
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.failed
    assert turn_of(rig, conversation.id) == (TurnState.apologised, "down")
    assert metric(rig.metrics, "gateway_turns_given_up_total", {"reason": "down"}) == 1


async def test_a_stale_button_is_closed_as_rejected(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    outcome = await rig.service.handle(inbound(conversation.id, "1", payload="/never_offered"))
    assert outcome is Outcome.rejected
    assert turn_of(rig, conversation.id)[0] == TurnState.rejected


# -- the database fails after the message is stored ---------------------------------------


async def test_db_failure_mid_turn_apologises_now_and_writes_the_apology_once_the_db_is_back(
    rig: ServiceRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await rig.conversation()
    fail_once(monkeypatch, "turn_context")
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    outcome = await rig.service.handle(inbound(conversation.id, "1", "hello"), on_stored=on_stored)
    assert outcome is Outcome.failed
    assert [r.duplicate or r.unavailable for r in receipts] == [False]  # acknowledged: stored
    assert len(rig.channel.texts(conversation.id)) == 1
    assert rig.channel.texts(conversation.id)[0].startswith(APOLOGY)
    assert metric(rig.metrics, "gateway_turns_given_up_total", {"reason": "database"}) == 1
    # The database took the message but not the outcome: it is still open there.
    assert turn_of(rig, conversation.id)[0] in (TurnState.received, TurnState.processing)

    assert await rig.service.turns.recover_once() == 1
    assert turn_of(rig, conversation.id) == (TurnState.apologised, "database")
    stored = [m for m in messages_of(rig.db, conversation.id) if m.sender == Sender.system]
    assert [(m.data or {}).get("kind") for m in stored] == ["apology"]
    assert len(rig.channel.texts(conversation.id)) == 1  # written, not sent twice
    assert await rig.service.turns.recover_once() == 0


async def test_the_resent_id_of_an_apologised_message_is_answered_not_dropped_as_a_duplicate(
    rig: ServiceRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await rig.conversation()
    fail_once(monkeypatch, "turn_context")
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    await rig.service.turns.recover_once()
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    outcome = await rig.service.handle(inbound(conversation.id, "1", "hello"), on_stored=on_stored)
    assert outcome is Outcome.answered
    assert [r.duplicate for r in receipts] == [True]  # acknowledged, not stored twice
    assert rig.channel.texts(conversation.id)[-1] == "echo: hello"
    assert turn_of(rig, conversation.id) == (TurnState.answered, None)
    assert metric(rig.metrics, "gateway_duplicates_dropped_total", {"channel": "web"}) == 0
    # An answered message resent is a duplicate again.
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.duplicate


async def test_rasa_answered_but_the_replies_could_not_be_stored_the_customer_still_gets_them(
    rig: ServiceRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await rig.conversation()
    fail_once(monkeypatch, "save_bot_replies")
    outcome = await rig.service.handle(inbound(conversation.id, "1", "hello"))
    assert outcome is Outcome.answered
    assert rig.channel.texts(conversation.id) == ["echo: hello"]
    await rig.service.turns.recover_once()
    # Rasa's tracker holds the answer; now the transcript does too.
    bot = [m.text for m in messages_of(rig.db, conversation.id) if m.sender == Sender.bot]
    assert bot == ["echo: hello"]
    assert turn_of(rig, conversation.id) == (TurnState.answered, None)
    assert rig.channel.texts(conversation.id) == ["echo: hello"]


async def test_a_write_owed_waits_while_the_database_is_still_down(
    rig: ServiceRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await rig.conversation()
    fail_once(monkeypatch, "turn_context")
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    fail_once(monkeypatch, "get_conversation")
    real_apologise = __import__("bot.turns", fromlist=["apologise"]).apologise
    broken = {"on": True}

    def apologise(*args: Any, **kwargs: Any) -> Any:
        if broken["on"]:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real_apologise(*args, **kwargs)

    monkeypatch.setattr("bot.turns.apologise", apologise)
    with pytest.raises(OperationalError):
        await rig.service.turns.recover_once()
    broken["on"] = False
    assert await rig.service.turns.recover_once() == 1
    assert turn_of(rig, conversation.id) == (TurnState.apologised, "database")


# -- a gateway stopped mid-turn -----------------------------------------------------------


async def crash_mid_turn(rig: ServiceRig, conversation_id: str, text: str = "hello") -> None:
    """Start a turn and kill it while Rasa thinks, as a crash or kill -9 would (no clean-up runs)."""
    rig.rasa.delay = 5
    asked = len(rig.rasa.calls_for(conversation_id))
    task = rig.service.submit(inbound(conversation_id, "1", text))
    while len(rig.rasa.calls_for(conversation_id)) == asked:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    rig.rasa.delay = 0


async def test_a_turn_cut_off_by_a_crash_gets_one_apology_from_the_next_gateway(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    conversation = await first.conversation()
    await crash_mid_turn(first, conversation.id)
    assert turn_of(first, conversation.id)[0] == TurnState.processing

    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    assert await restarted.service.turns.recover_once() == 1
    texts = restarted.channel.texts(conversation.id)
    assert len(texts) == 1 and texts[0].startswith(APOLOGY)
    assert turn_of(restarted, conversation.id) == (TurnState.apologised, "abandoned")
    assert metric(restarted.metrics, "gateway_turns_given_up_total", {"reason": "abandoned"}) == 1
    # At most once: later passes, and a second gateway, find nothing to do.
    assert await restarted.service.turns.recover_once() == 0
    other = make_rig(turn_policy=QUICK)
    assert await other.service.turns.recover_once() == 0
    assert other.channel.texts(conversation.id) == []


async def test_a_message_rasa_never_saw_is_answered_after_the_restart(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    conversation = await first.conversation()
    # Stored and acknowledged, then the gateway stopped before its turn began.
    with first.db() as session:
        claim = claims.claim_inbound(session, inbound=inbound(conversation.id, "1", "where is my order"))
        session.commit()
    assert claim is not None
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    assert await restarted.service.turns.recover_once() == 1
    await restarted.service.aclose(timeout=5)
    assert restarted.channel.texts(conversation.id) == ["echo: where is my order"]
    assert turn_of(restarted, conversation.id) == (TurnState.answered, None)
    assert metric(restarted.metrics, "gateway_turns_recovered_total", {"how": "resumed"}) == 1


async def test_a_turn_answered_just_before_the_crash_is_closed_without_a_word(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    conversation = await first.conversation()
    await first.service.handle(inbound(conversation.id, "1", "hello"))
    with first.db() as session:  # the mark never made it
        session.execute(
            update(Message)
            .where(Message.conversation_id == conversation.id, Message.sender == Sender.customer)
            .values(turn_state=TurnState.processing)
        )
        session.commit()
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    assert await restarted.service.turns.recover_once() == 1
    assert restarted.channel.texts(conversation.id) == []
    assert turn_of(restarted, conversation.id)[0] == TurnState.answered


async def test_a_stranded_turn_in_a_conversation_staff_now_hold_is_left_to_them(
    make_rig: Callable[..., ServiceRig],
) -> None:
    first = make_rig()
    conversation = await first.conversation()
    await crash_mid_turn(first, conversation.id)
    with first.db() as session:
        session.execute(
            update(Conversation).where(Conversation.id == conversation.id).values(state=ConversationState.queued)
        )
        session.commit()
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    await restarted.service.turns.recover_once()
    assert restarted.channel.texts(conversation.id) == []
    assert turn_of(restarted, conversation.id)[0] == TurnState.held


async def test_two_gateways_recovering_at_once_apologise_once(make_rig: Callable[..., ServiceRig]) -> None:
    first = make_rig()
    conversations = [await first.conversation(address=f"a{i}") for i in range(5)]
    for conversation in conversations:
        await crash_mid_turn(first, conversation.id)
    a, b = make_rig(turn_policy=QUICK), make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    await asyncio.gather(a.service.turns.recover_once(), b.service.turns.recover_once())
    for conversation in conversations:
        sent = a.channel.texts(conversation.id) + b.channel.texts(conversation.id)
        assert len(sent) == 1, conversation.id
        with first.db() as session:
            apologies = session.scalars(
                select(Message).where(Message.conversation_id == conversation.id, Message.sender == Sender.system)
            ).all()
        assert len(apologies) == 1


async def test_a_live_turn_is_never_taken_for_an_abandoned_one(make_rig: Callable[..., ServiceRig]) -> None:
    rig = make_rig(turn_policy=QUICK)
    conversation = await rig.conversation()
    rig.rasa.delay = 0.5
    task = rig.service.submit(inbound(conversation.id, "1", "hello"))
    await asyncio.sleep(0.2)
    assert await rig.service.turns.recover_once() == 0
    assert await task is Outcome.answered
    assert rig.channel.texts(conversation.id) == ["echo: hello"]


# -- Rasa's tracker and the transcript agree ----------------------------------------------


def rewound(rig: ServiceRig, conversation_id: str) -> bool:
    events = rig.rasa.events.get(conversation_id, [])
    return bool(events) and events[-1] == {"event": "rewind"}


async def test_each_message_reaches_rasa_with_its_stored_id(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    [customer] = [m for m in messages_of(rig.db, conversation.id) if m.sender == Sender.customer]
    assert rig.rasa.calls[0].message_id == str(customer.id)


async def test_a_timed_out_turn_rasa_took_in_is_undone_in_its_tracker(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.delay = 3  # longer than the rig's 2 s budget: the customer gets the apology
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.failed
    await rig.service.aclose(timeout=5)
    assert rewound(rig, conversation.id)
    # The customer tries again and the dialogue carries on from before the failed turn.
    rig.rasa.delay = 0
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.answered
    assert not rewound(rig, conversation.id)


async def test_a_turn_rasa_never_got_is_not_rewound(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "hi"))
    rig.rasa.mode = "down"
    assert await rig.service.handle(inbound(conversation.id, "2", "and now?")) is Outcome.failed
    await rig.service.aclose(timeout=5)
    # "down": never reached Rasa, so the earlier, answered turn must stay.
    assert not rewound(rig, conversation.id)


async def test_a_resent_message_answered_meanwhile_is_not_rewound(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.delay = 3
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.failed
    rig.rasa.delay = 0
    # Resent at once: answered before the gateway gets round to Rasa's tracker.
    rig.service.turns._unsynced, owed = [], rig.service.turns._unsynced
    assert await rig.service.handle(inbound(conversation.id, "1", "hello")) is Outcome.answered
    rig.service.turns._unsynced = owed
    await rig.service.turns.recover_once()
    assert not rewound(rig, conversation.id)


async def test_a_crashed_turn_is_rewound_when_it_is_apologised_for(make_rig: Callable[..., ServiceRig]) -> None:
    first = make_rig()
    conversation = await first.conversation()
    await first.service.handle(inbound(conversation.id, "0", "hi"))
    await crash_mid_turn(first, conversation.id, "and my order?")
    restarted = make_rig(turn_policy=QUICK)
    await asyncio.sleep(0.1)
    await restarted.service.turns.recover_once()
    await restarted.service.aclose(timeout=5)
    assert rewound(restarted, conversation.id)
    events = restarted.rasa.events[conversation.id]
    assert [e.get("text") for e in events if e["event"] == "user"] == ["hi", "and my order?"]
