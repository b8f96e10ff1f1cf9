"""bot/persistence/queue.py: the staff queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.messages import BotReply
from bot.persistence import queue, replies


def test_the_queue_lists_only_the_conversations_waiting_for_staff(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    waiting = [new_conversation(address=f"a{i}") for i in range(2)]
    for conversation in waiting:
        unit(
            replies.save_bot_replies,
            conversation_id=conversation.id,
            channel="web",
            replies=[BotReply(custom={"handoff": {"reason": "request_human"}})],
        )
    new_conversation(address="not-waiting")
    # (Priority, then waiting time, orders it: tests/bot/test_handoff.py.)
    assert {e.conversation_id for e in unit(queue.queue)} == {c.id for c in waiting}
