"""A reply stored but never sent (the gateway died between the two) is sent by the recovery pass, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.core.messages import DeliveryFailed
from bot.persistence import replies as turn_replies
from bot.rasa import BotReply
from bot.recovery import TurnPolicy
from crm.clock import utcnow
from crm.models import Delivery, Message, Sender
from tests.fakes.rigs import ServiceRig, inbound, metric

pytestmark = pytest.mark.asyncio

# No grace: whatever is pending when the pass runs is owed (the tests back-date nothing).
NOW = TurnPolicy(lease=timedelta(seconds=20), interval_seconds=3600, delivery_grace=timedelta(0))


def deliveries(rig: ServiceRig, conversation_id: str) -> list[tuple[Sender, str, Delivery | None]]:
    with rig.db() as session:
        rows = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        ).all()
        return [(m.sender, m.text, m.delivery) for m in rows]


def store_unsent_replies(rig: ServiceRig, conversation_id: str, *texts: str) -> list[str]:
    """What a gateway killed right after storing a turn's replies leaves behind."""
    with rig.db() as session:
        saved = turn_replies.save_bot_replies(
            session,
            conversation_id=conversation_id,
            channel="web",
            replies=[BotReply(text=t) for t in texts],
        )
        session.commit()
    return [o.id for o in saved.visible]


async def test_a_normal_turn_marks_its_replies_sent(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    await rig.service.deliveries.settled()  # the mark is written behind the turn
    assert deliveries(rig, conversation.id) == [
        (Sender.customer, "hello", None),
        (Sender.bot, "echo: hello", Delivery.sent),
    ]
    assert await rig.service.turns.recover_once() == 0
    assert rig.channel.texts(conversation.id) == ["echo: hello"]


async def test_replies_stored_but_never_sent_are_sent_once_in_order_by_the_recovery_pass(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(turn_policy=NOW)
    conversation = await rig.conversation()
    store_unsent_replies(rig, conversation.id, "first part", "second part")
    assert rig.channel.texts(conversation.id) == []

    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == ["first part", "second part"]
    assert [d for _, _, d in deliveries(rig, conversation.id)] == [Delivery.sent, Delivery.sent]
    assert metric(rig.metrics, "gateway_turns_recovered_total", {"how": "redelivered"}) == 2

    # A second pass, or a second gateway's pass, finds nothing owed.
    await rig.service.turns.recover_once()
    other = make_rig(turn_policy=NOW)
    await other.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == ["first part", "second part"]
    assert other.channel.texts(conversation.id) == []


async def test_a_pending_reply_younger_than_the_grace_is_left_to_the_gateway_sending_it(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(turn_policy=TurnPolicy(interval_seconds=3600, delivery_grace=timedelta(seconds=45)))
    conversation = await rig.conversation()
    ids = store_unsent_replies(rig, conversation.id, "on its way")
    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == []
    with rig.db() as session:  # a minute later it is owed
        session.execute(
            update(Message).where(Message.id == int(ids[0])).values(created_at=utcnow() - timedelta(minutes=1))
        )
        session.commit()
    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == ["on its way"]


async def test_replies_older_than_the_resume_window_are_not_sent_late(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(turn_policy=NOW)
    conversation = await rig.conversation()
    ids = store_unsent_replies(rig, conversation.id, "yesterday's answer")
    with rig.db() as session:
        session.execute(
            update(Message).where(Message.id == int(ids[0])).values(created_at=utcnow() - timedelta(hours=2))
        )
        session.commit()
    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == []


async def test_a_reply_the_platform_refuses_is_marked_refused_and_not_retried(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(turn_policy=NOW)
    conversation = await rig.conversation()
    store_unsent_replies(rig, conversation.id, "to a number that opted out")
    calls: list[str] = []

    async def refuse(conversation_ref: object, outbound: object) -> None:
        calls.append("send")
        raise DeliveryFailed("21610")

    rig.channel.send = refuse  # type: ignore[method-assign]
    await rig.service.turns.recover_once()
    await rig.service.turns.recover_once()
    assert calls == ["send"]
    assert deliveries(rig, conversation.id)[-1][2] == Delivery.refused


async def test_a_send_that_fails_for_another_reason_is_owed_again_on_the_next_pass(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(turn_policy=NOW)
    conversation = await rig.conversation()
    store_unsent_replies(rig, conversation.id, "try again")
    real = rig.channel.send
    failures = [ConnectionError("platform unreachable")]

    async def flaky(conversation_ref: object, outbound: object) -> None:
        if failures:
            raise failures.pop()
        await real(conversation_ref, outbound)  # type: ignore[arg-type]

    rig.channel.send = flaky  # type: ignore[method-assign]
    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == []
    assert deliveries(rig, conversation.id)[-1][2] == Delivery.pending
    await rig.service.turns.recover_once()
    assert rig.channel.texts(conversation.id) == ["try again"]


async def test_a_refusal_on_the_normal_path_is_recorded(rig: ServiceRig) -> None:
    conversation = await rig.conversation()

    async def refuse(conversation_ref: object, outbound: object) -> None:
        raise DeliveryFailed("blocked")

    rig.channel.send = refuse  # type: ignore[method-assign]
    with pytest.raises(DeliveryFailed):
        await rig.service.notify(conversation_id=conversation.id, text="your order shipped", data={})
    await rig.service.deliveries.settled()
    assert deliveries(rig, conversation.id)[-1] == (Sender.system, "your order shipped", Delivery.refused)
