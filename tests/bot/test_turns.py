"""bot/turns.py: every acknowledged message's turn ends once - each move a compare-and-set - and a
turn nobody finishes is found, taken by one gateway, or taken up again when the customer resends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot import turns
from bot.core.messages import BotReply, InboundMessage
from bot.persistence import claims
from crm.clock import utcnow
from crm.models import Delivery, TurnState
from crm.vocabulary import Sender
from tests.fakes.rigs import messages_of

SOON = timedelta(minutes=5)


def _said(unit: Callable[..., Any], conversation_id: str, text: str, message_id: str | None = None) -> int:
    inbound = InboundMessage(
        channel="web", conversation_id=conversation_id, channel_message_id=message_id or text, text=text
    )
    return unit(claims.claim_inbound, inbound=inbound).message_id


def test_a_turn_moves_once_from_an_open_state(unit: Callable[..., Any], new_conversation: Callable[..., Any]) -> None:
    message = _said(unit, new_conversation().id, "hello")
    assert unit(turns.state_of, message_id=message) is TurnState.received
    assert unit(turns.mark, message_id=message, state=TurnState.processing)
    assert unit(turns.mark, message_id=message, state=TurnState.answered)
    # Closed: neither the recovery pass nor another gateway can close it again.
    assert not unit(turns.mark, message_id=message, state=TurnState.apologised, reason="timeout")
    assert unit(turns.state_of, message_id=message) is TurnState.answered
    assert unit(turns.mark, message_id=message, state=TurnState.held, expected=[TurnState.answered])


def test_stranded_turns_are_the_open_ones_past_their_lease_and_one_gateway_takes_each(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
    open_one = _said(unit, conversation.id, "where is my order")
    in_flight = _said(unit, conversation.id, "still thinking")
    answered = _said(unit, conversation.id, "thanks")
    unit(turns.mark, message_id=answered, state=TurnState.answered)
    assert unit(turns.stranded, leased_before=utcnow() - SOON) == []  # leases still running
    found = unit(turns.stranded, leased_before=utcnow() + SOON, skip=[in_flight])
    assert [(t.message_id, t.state, t.text, t.channel) for t in found] == [
        (open_one, TurnState.received, "where is my order", "web")
    ]
    assert unit(turns.take, turn=found[0])
    assert not unit(turns.take, turn=found[0])  # the lease it saw is gone: another gateway has it


def test_a_reply_stored_after_a_message_answered_it(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
    message = _said(unit, conversation.id, "hello")
    assert not unit(turns.replied_after, message_id=message, conversation_id=conversation.id)
    unit(turns.write_owed, owed=turns.Owed(
        message_id=message, conversation_id=conversation.id, channel="web", state=TurnState.answered,
        answer=(BotReply(text="Hi!"),),
    ))  # fmt: skip
    assert unit(turns.replied_after, message_id=message, conversation_id=conversation.id)
    assert unit(turns.state_of, message_id=message) is TurnState.answered


def test_the_apology_is_stored_due_and_closes_the_turn_only_once(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: Any
) -> None:
    conversation = new_conversation()
    message = _said(unit, conversation.id, "hello")
    owed = turns.Owed(message_id=message, conversation_id=conversation.id, channel="web",
                      state=TurnState.apologised, apology="Sorry, try again in a minute.")  # fmt: skip
    apology = unit(turns.write_owed, owed=owed)
    assert apology is not None and apology.text == "Sorry, try again in a minute."
    assert unit(turns.write_owed, owed=owed) is None
    stored = [m for m in messages_of(db, conversation.id) if m.sender == Sender.system]
    assert [(m.data, m.delivery) for m in stored] == [({"kind": "apology", "failure": "database"}, Delivery.pending)]
    assert unit(turns.state_of, message_id=message) is TurnState.apologised


def test_a_resent_message_is_taken_up_again_only_if_its_turn_failed_or_was_abandoned(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
    apologised = _said(unit, conversation.id, "first", "m-1")
    unit(turns.mark, message_id=apologised, state=TurnState.apologised, reason="timeout")
    answered = _said(unit, conversation.id, "second", "m-2")
    unit(turns.mark, message_id=answered, state=TurnState.answered)
    live = _said(unit, conversation.id, "third", "m-3")

    def reclaim(channel_message_id: str, *, lease_ran_out: bool = False, skip: tuple[int, ...] = ()) -> Any:
        leased_before = utcnow() + (SOON if lease_ran_out else -SOON)
        return unit(turns.reclaim, channel="web", channel_message_id=channel_message_id,
                    leased_before=leased_before, skip=skip)  # fmt: skip

    again = reclaim("m-1")
    assert again is not None and (again.message_id, again.text) == (apologised, "first")
    assert unit(turns.state_of, message_id=apologised) is TurnState.received
    assert reclaim("m-2") is None and reclaim("m-2", lease_ran_out=True) is None  # answered
    assert reclaim("m-3") is None  # still live
    assert reclaim("m-3", lease_ran_out=True, skip=(live,)) is None  # in flight on this gateway
    assert reclaim("m-3", lease_ran_out=True).message_id == live
    assert reclaim("never-stored") is None
