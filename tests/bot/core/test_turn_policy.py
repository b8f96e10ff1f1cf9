"""bot/core/turn_policy.py: the timings of a customer turn, and the marks its task carries."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.core.messages import BotReply, ConversationRef
from bot.core.turn_policy import TurnPolicy, UnsavedReplies, failure_kind, turn_message
from crm.vocabulary import ConversationState


def test_the_default_timings_fit_together() -> None:
    policy = TurnPolicy()
    # A live turn is never taken for abandoned, and a stranded one is found well within its lease.
    assert policy.lease == timedelta(seconds=20) and policy.interval_seconds < policy.lease.total_seconds()
    # A reply is declared lost only after any send would have finished, and long before the message is stale.
    assert policy.lease < policy.delivery_grace < policy.resume_max_age
    assert TurnPolicy(lease=timedelta(seconds=1)).resume_max_age == policy.resume_max_age


async def test_the_marks_belong_to_the_task_that_sets_them() -> None:
    seen: dict[str, tuple[str, int | None]] = {}

    async def turn(name: str, message_id: int | None, kind: str | None) -> None:
        if message_id is not None:
            turn_message.set(message_id)
        if kind is not None:
            failure_kind.set(kind)
        await asyncio.sleep(0.01)
        seen[name] = (failure_kind.get(), turn_message.get())

    await asyncio.gather(turn("a", 7, "timeout"), turn("b", None, None))
    assert seen == {"a": ("timeout", 7), "b": ("assistant", None)}
    assert (failure_kind.get(), turn_message.get()) == ("assistant", None)


def test_unsaved_replies_carry_what_rasa_said() -> None:
    conversation = ConversationRef(
        id="c1", channel="web", address="a", customer_external_id=None, locale="en", state=ConversationState.bot
    )
    error = UnsavedReplies(conversation, [BotReply(text="Your order shipped.")])
    assert error.conversation is conversation and [r.text for r in error.answer] == ["Your order shipped."]
    assert str(error) == "bot replies could not be stored"
