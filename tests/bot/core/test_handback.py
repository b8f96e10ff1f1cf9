"""bot/core/handback.py: staff resolve, the handoff closes at once, and the bot's first words (the
rating question) follow in the background, in the conversation's turn line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from bot.conversations import STAFF_QUEUE_KEY, staff_conversation_key
from bot.locks import TurnUnavailable
from crm.models import Conversation, ConversationState, HandoffStatus
from tests.bot.staff_support import RATING_QUESTION, HandoffRig


async def _assigned(rig: HandoffRig) -> tuple[str, int]:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    return conversation.id, sam


async def test_resolve_returns_before_the_bots_resume_turn_which_follows(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    conversation_id, sam = await _assigned(rig)
    rig.rasa.trigger_delay = 1.0
    resolution = await rig.service.handback.resolve(conversation_id=conversation_id, staff_id=sam, may_take_over=False)
    assert resolution.conversation.state is ConversationState.resolved
    assert [h.status for h in rig.handoffs(conversation_id)] == [HandoffStatus.resolved]
    assert RATING_QUESTION not in rig.channel.texts(conversation_id)
    assert rig.fanout.of(STAFF_QUEUE_KEY)[-1] == {"type": "queue", "event": "resolved"}
    await rig.service.aclose(timeout=5)
    assert rig.channel.texts(conversation_id)[-1] == RATING_QUESTION
    states = [f["state"] for f in rig.fanout.of(staff_conversation_key(conversation_id)) if f["type"] == "state"]
    assert states[-2:] == ["resolved", "bot"]


class BusyGuard:
    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        raise TurnUnavailable(key)
        yield


async def test_with_the_conversation_lock_busy_the_bot_is_back_without_asking_for_a_rating(
    handoff_rig: HandoffRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = handoff_rig
    conversation_id, sam = await _assigned(rig)
    monkeypatch.setattr(rig.service.handback, "_guard", BusyGuard())
    await rig.service.handback.resolve(conversation_id=conversation_id, staff_id=sam, may_take_over=False)
    await rig.service.aclose(timeout=5)
    assert rig.rasa.triggers == []
    assert RATING_QUESTION not in rig.channel.texts(conversation_id)
    with rig.db() as session:
        assert session.scalar(select(Conversation.state).where(Conversation.id == conversation_id)) is (
            ConversationState.bot
        )
