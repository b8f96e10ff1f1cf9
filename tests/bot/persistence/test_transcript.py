"""bot/persistence/transcript.py: what the customer and staff read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.messages import BotReply
from bot.persistence import replies, transcript
from crm.vocabulary import Sender


def test_the_transcript_hides_bare_signals_and_suppressed_replies(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
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
