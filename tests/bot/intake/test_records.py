"""bot/intake/records.py: a message the gateway answers itself is stored with its answer once,
in one transaction, with no turn left open; updates with nowhere to be stored are claimed once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import InboundMessage
from bot.intake import records
from crm.clock import utcnow
from crm.models import TurnState
from crm.vocabulary import Sender
from tests.fakes.rigs import messages_of


def _sticker(conversation_id: str) -> InboundMessage:
    return InboundMessage(
        channel="telegram", conversation_id=conversation_id, channel_message_id="7:42:1", text="(a sticker)"
    )


def test_the_message_and_the_gateways_answer_are_stored_once_and_the_turn_is_closed(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = new_conversation()
    answered = unit(
        records.record_answered,
        inbound=_sticker(conversation.id),
        reply="Sorry, I can only read text messages.",
        data={"kind": "telegram_reply"},
        event={"kind": "telegram_not_text"},
    )
    assert not answered.duplicate and answered.reply is not None
    assert (answered.reply.sender, answered.reply.text) == (Sender.system, "Sorry, I can only read text messages.")
    stored = messages_of(db, conversation.id)
    assert [(m.sender, m.text, m.data, m.turn_state) for m in stored] == [
        (Sender.customer, "(a sticker)", {"kind": "telegram_not_text"}, TurnState.answered),
        (Sender.system, "Sorry, I can only read text messages.", {"kind": "telegram_reply"}, None),
    ]
    assert str(stored[1].id) == answered.reply.id
    again = unit(records.record_answered, inbound=_sticker(conversation.id), reply="twice?", data={})
    assert again == records.Answered(duplicate=True)
    assert len(messages_of(db, conversation.id)) == 2


def test_a_message_recorded_without_an_answer_keeps_its_own_data(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = new_conversation()
    answered = unit(records.record_answered, inbound=_sticker(conversation.id), reply=None, data={"kind": "x"})
    assert answered == records.Answered(duplicate=False, reply=None)
    (stored,) = messages_of(db, conversation.id)
    assert (stored.data, stored.turn_state) == (None, TurnState.answered)


def test_an_update_with_no_conversation_is_claimed_once_until_the_claim_expires(unit: Callable[..., Any]) -> None:
    keep = timedelta(days=1)
    assert unit(records.claim_once, key="telegram:7:-100555", now=utcnow(), keep=keep)
    assert not unit(records.claim_once, key="telegram:7:-100555", now=utcnow(), keep=keep)
    assert unit(records.claim_once, key="telegram:8:-100555", now=utcnow(), keep=keep)
    assert unit(records.claim_once, key="telegram:7:-100555", now=utcnow() + 2 * keep, keep=keep)
