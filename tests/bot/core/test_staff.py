"""bot/core/staff.py: staff take a conversation and reply in it through its ordered outbox; what the
channel cannot deliver is still stored, and the console hears it as DeliveryFailed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.conversations import STAFF_QUEUE_KEY, staff_conversation_key
from bot.core.messages import ConversationRef, DeliveryFailed, OutboundMessage
from crm.models import ConversationState, Sender
from tests.bot.staff_support import HandoffRig


def _refusing(rig: HandoffRig, error: Exception) -> None:
    async def send(conversation: ConversationRef, outbound: OutboundMessage) -> None:
        raise error

    rig.channel.send = send  # type: ignore[method-assign]


async def test_assigning_tells_the_customer_once_and_the_consoles_what_changed(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    assignment = await rig.service.staff.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert assignment.previous_state is ConversationState.queued and assignment.notice is not None
    assert rig.channel.sent[-1][1].id == assignment.notice.id
    assert {"type": "state", "state": "assigned", "assignee": sam} in rig.fanout.of(
        staff_conversation_key(conversation.id)
    )
    assert rig.fanout.of(STAFF_QUEUE_KEY)[-1] == {"type": "queue", "event": "assigned"}
    sent = len(rig.channel.sent)
    again = await rig.service.staff.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert again.notice is None and len(rig.channel.sent) == sent  # already theirs: nothing to say


async def test_an_assignment_stands_when_its_notice_cannot_be_delivered(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    _refusing(rig, ConnectionResetError("gone"))
    with pytest.raises(DeliveryFailed, match="ConnectionResetError"):
        await rig.service.staff.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert rig.handoffs(conversation.id)[0].assigned_to_id == sam
    assert rig.messages(conversation.id)[-1].sender is Sender.system  # the notice, in the transcript


@pytest.mark.parametrize(
    ("error", "said"), [(RuntimeError("the client broke"), "RuntimeError"), (DeliveryFailed("opted_out"), "opted_out")]
)
async def test_a_reply_the_channel_cannot_take_is_stored_and_reported(
    handoff_rig: HandoffRig, error: Exception, said: str
) -> None:
    rig = handoff_rig
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.staff.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    _refusing(rig, error)
    with pytest.raises(DeliveryFailed) as failed:
        await rig.service.staff.reply(conversation_id=conversation.id, staff_id=sam, staff_name="Sam", text="On it.")
    assert str(failed.value) == said
    stored = rig.messages(conversation.id)[-1]
    assert (stored.sender, stored.text, stored.staff_user_id) == (Sender.agent, "On it.", sam)


async def test_replies_go_out_in_the_order_they_were_written(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.staff.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    replies: list[Any] = [
        rig.service.staff.reply(conversation_id=conversation.id, staff_id=sam, staff_name="Sam", text=f"part {n}")
        for n in range(5)
    ]
    written = await asyncio.gather(*replies)
    sent = [o for cid, o in rig.channel.sent if cid == conversation.id and o.sender is Sender.agent]
    assert [o.id for o in sent] == sorted((o.id for o in written), key=int)
