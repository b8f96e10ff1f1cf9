"""The gateway stores how Rasa read each customer message (our channel's X-Nlu-Parse header)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.core.messages import InboundMessage
from bot.rasa import NluParse, read_parse
from crm.models import Message, ReviewItem, Sender
from tests.fakes.rasa import RasaCall
from tests.fakes.rigs import ServiceRig

pytestmark = pytest.mark.asyncio


def _parse(call: RasaCall) -> dict[str, Any] | None:
    if "cat" in call.message:
        return {"intent": "nlu_fallback", "confidence": 0.21, "ranking": [["nlu_fallback", 0.21], ["greet", 0.1]]}
    if "order" in call.message:
        return {"intent": "track_order", "confidence": 0.93, "ranking": [["track_order", 0.93]]}
    return None


async def test_each_customer_message_keeps_its_intent_and_misreadings_are_queued(rig: ServiceRig) -> None:
    rig.rasa.parse = _parse
    conversation = await rig.conversation()
    for n, text in enumerate(["where is my order", "my cat ate it, call 07700900123", "hello"]):
        await rig.service.handle(InboundMessage(conversation_id=conversation.id, channel="web",
                                                channel_message_id=f"m{n}", text=text))  # fmt: skip
    with rig.db() as session:
        rows = session.execute(
            select(Message.text, Message.intent, Message.intent_confidence)
            .where(Message.sender == Sender.customer)
            .order_by(Message.id)
        ).all()
        items = list(session.scalars(select(ReviewItem)))
    assert [(r.intent, r.intent_confidence) for r in rows] == [("track_order", 0.93), ("nlu_fallback", 0.21), (None, None)]
    assert [(i.reason, i.masked_text) for i in items] == [("fallback", "my cat ate it, call [phone]")]
    assert items[0].guesses == [{"intent": "nlu_fallback", "confidence": 0.21}, {"intent": "greet", "confidence": 0.1}]


@pytest.mark.parametrize(
    "header",
    [None, "", "not json", '{"intent": 3, "confidence": 0.5}', '{"intent": "x", "confidence": 7}', '{"intent": "x"}'],
)
async def test_an_odd_header_is_ignored_not_fatal(header: str | None) -> None:
    assert read_parse(header) is None


async def test_a_good_header() -> None:
    assert read_parse('{"intent":"greet","confidence":0.9,"ranking":[["greet",0.9],["deny",0.05]]}') == NluParse(
        "greet", 0.9, (("greet", 0.9), ("deny", 0.05))
    )
