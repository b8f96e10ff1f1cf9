"""bot/core/outbox.py and bot/core/staff.py: one ordered outbox per conversation, staff replies included."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.messages import ConversationRef, DeliveryFailed, OutboundMessage
from crm.models import StaffRole
from crm.vocabulary import ConversationState, Sender
from tests.bot.conftest import ServiceRig
from tests.bot.staff_support import create_staff


async def test_a_staff_reply_waits_its_turn_in_the_outbox(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    sam = create_staff(rig.db, name="Sam Carter", role=StaffRole.agent)
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    sent_before = len(rig.channel.sent)
    outbox = rig.service.outbox
    async with outbox.ordered(conversation.id):
        reply = asyncio.create_task(
            rig.service.staff_reply(
                conversation_id=conversation.id, staff_id=sam, staff_name="Sam", text="hi"
            )
        )
        await asyncio.sleep(0.2)
        # Someone ahead in the line (a bot reply being stored and sent): the staff reply waits.
        assert not reply.done() and len(rig.channel.sent) == sent_before
    outbound = await reply
    assert rig.channel.sent[-1][1].id == outbound.id


async def test_a_notice_waits_its_turn_in_the_outbox_too(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    async with rig.service.outbox.ordered(conversation.id):
        notice = asyncio.create_task(
            rig.service.notify(conversation_id=conversation.id, text="Shipped", data={})
        )
        await asyncio.sleep(0.2)
        assert not notice.done()
    assert await notice
    assert rig.channel.texts(conversation.id)[-1] == "Shipped"


async def test_the_line_is_per_conversation(rig: ServiceRig) -> None:
    first, second = await rig.conversation(), await rig.conversation(address="other")
    async with rig.service.outbox.ordered(first.id):
        assert await asyncio.wait_for(
            rig.service.notify(conversation_id=second.id, text="not held up", data={}), timeout=5
        )


async def test_delivery_to_a_channel_this_gateway_lacks_raises_delivery_failed(rig: ServiceRig) -> None:
    ref = ConversationRef(
        id="x",
        channel="pigeon",
        address="a",
        customer_external_id=None,
        locale="en",
        state=ConversationState.bot,
    )
    with pytest.raises(DeliveryFailed, match="pigeon"):
        await rig.service.outbox.deliver(ref, OutboundMessage(id="1", sender=Sender.system, text="hi"))
