"""With the real assistant: each customer message keeps the intent Rasa read
(our channel's X-Nlu-Parse header), and a known customer who rates us 5 is
asked the NPS question, whose answer is stored with its channel."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from actions.nps import ASK_REASON, ASK_SCORE
from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import Feedback, Message, NpsInvitation, Sender
from tests.e2e.test_widget_conversations import conversation_for, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_nps_after_a_good_rating_and_intents_kept(stack: Stack, stack_env: dict[str, str], crm_url: str) -> None:
    # A customer no other end-to-end test touches: test_erasure_e2e.py erases C020 from the
    # shared stack, and an erased (unknown) customer is never asked for NPS.
    client = await signed_in(stack, stack_env, "C024")
    try:
        await client.say("what delivery options do you have?")
        ask = await client.say("I'd like to leave some feedback")
        await client.press(ask.button("5"))
        asked = await client.say("no thanks")
        assert ASK_SCORE in asked.text
        assert [b["title"] for b in asked.buttons] == [str(n) for n in range(11)]
        reason = await client.press(next(b for b in asked.buttons if b["title"] == "9"))
        assert ASK_REASON in reason.text
        await client.say("You always answer quickly")
        conversation = conversation_for(crm_url, client)
        with session_scope(crm_url) as session:
            nps = session.scalars(
                select(Feedback).where(Feedback.conversation_id == conversation.id, Feedback.kind == "nps")
            ).one()
            assert (nps.score, nps.channel, nps.comment) == (9, "web", "You always answer quickly")
            assert session.scalars(select(NpsInvitation).where(NpsInvitation.conversation_id == conversation.id)).one()
        # The intent is written once the turn's replies went out, a moment after the
        # customer sees them: wait for the last turn's, rather than read too early.
        deadline = time.monotonic() + 10
        while True:
            with session_scope(crm_url) as session:
                read = session.execute(
                    select(Message.text, Message.intent, Message.intent_confidence)
                    .where(Message.conversation_id == conversation.id, Message.sender == Sender.customer)
                    .order_by(Message.id)
                ).all()
            if all(r.intent for r in read) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        first = read[0]
        assert first.intent == "delivery_info" and 0 < (first.intent_confidence or 0) <= 1
        assert all(r.intent for r in read), read
    finally:
        await client.close()
