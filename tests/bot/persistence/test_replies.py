"""bot/persistence/replies.py: a turn's replies are stored only while the conversation is the bot's,
and a held customer is told once that a person will answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import BotReply, Button
from bot.persistence import replies, rows, transcript
from crm.models import Delivery
from crm.vocabulary import ConversationState, Sender
from tests.fakes.rigs import messages_of

HANDOFF = BotReply(custom={"handoff": {"reason": "request_human"}})


def test_every_reply_is_stored_with_its_buttons_image_and_custom_and_only_visible_ones_are_due(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = new_conversation()
    saved = unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[
            BotReply(text="Which one?", buttons=(Button("A", "/a"),), image="https://shop.example/a.png"),
            HANDOFF,
        ],
    )
    assert saved.handoff and not saved.suppressed
    assert [(o.text, o.buttons, o.image) for o in saved.visible] == [
        ("Which one?", (Button("A", "/a"),), "https://shop.example/a.png")
    ]
    stored = messages_of(db, conversation.id)
    assert [(m.sender, m.text, m.delivery) for m in stored] == [
        (Sender.bot, "Which one?", Delivery.pending),
        (Sender.bot, "", None),  # the bare signal: kept for the record, never sent
    ]
    assert stored[0].data == {"buttons": [{"title": "A", "payload": "/a"}], "image": "https://shop.example/a.png"}
    # The packet became a row in the queue; the transcript keeps what points at it.
    assert saved.queued is not None and saved.queued.reason == "request_human"
    assert stored[1].data == {"custom": {"handoff": saved.queued.signal()}}
    # The handoff queued the conversation in the same statement.
    assert unit(rows.get_conversation, conversation_id=conversation.id).state is ConversationState.queued


def test_replies_for_a_conversation_that_left_the_expected_state_are_stored_suppressed(
    unit: Callable[..., Any], new_conversation: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = new_conversation()
    unit(replies.save_bot_replies, conversation_id=conversation.id, channel="web", replies=[HANDOFF])
    late = unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[BotReply(text="too late"), HANDOFF],
    )
    assert (late.visible, late.handoff, late.suppressed) == ([], False, True)
    stored = [m for m in messages_of(db, conversation.id) if m.text == "too late"]
    assert [(m.data, m.delivery) for m in stored] == [({"suppressed": True}, None)]


def test_the_replies_of_a_customer_erased_during_the_turn_are_delivered_and_stored_nowhere(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    saved = unit(
        replies.save_bot_replies,
        conversation_id="erased-meanwhile",
        channel="web",
        replies=[BotReply(text="Done. I've deleted your details."), HANDOFF],
    )
    assert (saved.handoff, saved.suppressed) == (False, False)
    (confirmation,) = saved.visible
    assert confirmation.text == "Done. I've deleted your details." and confirmation.id.startswith("unstored-")
    assert messages_of(db, "erased-meanwhile") == []


def test_a_held_customer_is_due_the_notice_until_told_and_again_after_the_bot_spoke(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
    assert not unit(replies.turn_context, conversation_id=conversation.id).notice_due  # the bot's
    unit(replies.save_bot_replies, conversation_id=conversation.id, channel="web", replies=[HANDOFF])
    context = unit(replies.turn_context, conversation_id=conversation.id)
    assert context.conversation.state is ConversationState.queued and context.notice_due
    unit(
        transcript.add_outbound,
        conversation_id=conversation.id,
        channel="web",
        sender=Sender.system,
        text="A person will reply here.",
        data={"kind": "held_notice"},
    )
    assert not unit(replies.turn_context, conversation_id=conversation.id).notice_due
    unit(replies.save_bot_replies, conversation_id=conversation.id, channel="web", replies=[BotReply(text="late")],
         expected_state=ConversationState.queued, next_state=ConversationState.queued)  # fmt: skip
    assert unit(replies.turn_context, conversation_id=conversation.id).notice_due


def test_a_turn_without_its_conversation_is_a_lookup_error(unit: Callable[..., Any]) -> None:
    with pytest.raises(LookupError):
        unit(replies.turn_context, conversation_id="never-was")
