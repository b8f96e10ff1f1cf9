"""bot/persistence/claims.py: an inbound message is claimed (stored) once; a button never offered is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.messages import BotReply, Button, InboundMessage
from bot.persistence import claims, replies, transcript


def _pressed(conversation_id: str, message_id: str, payload: str) -> InboundMessage:
    return InboundMessage(
        channel="web",
        conversation_id=conversation_id,
        channel_message_id=message_id,
        payload=payload,
        payload_title=payload.strip("/").title(),
    )


def test_the_claim_stores_a_message_once_and_refuses_a_button_never_offered(
    unit: Callable[..., Any], new_conversation: Callable[..., Any]
) -> None:
    conversation = new_conversation()
    message = InboundMessage(
        channel="web", conversation_id=conversation.id, channel_message_id="m1", text="hi"
    )
    first = unit(claims.claim_inbound, inbound=message)
    assert first is not None and first.text == "hi" and first.rejection is None
    assert unit(claims.claim_inbound, inbound=message) is None  # the redelivery is a duplicate
    stale = _pressed(conversation.id, "m2", "/never")
    refused = unit(claims.claim_inbound, inbound=stale)
    assert refused is not None and refused.rejection == "bad_payload"


def test_a_button_in_the_bots_latest_turn_is_accepted(unit: Callable[..., Any], new_conversation: Callable[..., Any]) -> None:
    conversation = new_conversation()
    unit(
        replies.save_bot_replies,
        conversation_id=conversation.id,
        channel="web",
        replies=[BotReply(text="Which?", buttons=(Button("A", "/a"),))],
    )
    assert unit(transcript.offered_payloads, conversation_id=conversation.id) == {"/a"}
    pressed = _pressed(conversation.id, "m3", "/a")
    assert unit(claims.claim_inbound, inbound=pressed).rejection is None
