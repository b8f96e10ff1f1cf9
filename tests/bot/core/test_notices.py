"""bot/core/notices.py: what the gateway tells a held customer (their place in the queue), and the
staff alert for a new handoff (no personal data; a link to the console)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType

import pytest

from bot import replies
from bot.core import notices
from bot.handoff import HandoffAlert
from bot.persistence import rows
from bot.persistence.handoffs import QueuedHandoff
from crm.shop import load_shop_profile
from tests.bot.staff_support import HandoffRig


async def test_a_held_customer_hears_their_place_in_the_queue(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    first = await rig.handed_off(address="first")
    second = await rig.handed_off(address="second")

    async def held_notice(conversation_id: str) -> str:
        conversation = await rig.service.uow.db(rows.get_conversation, conversation_id=conversation_id)
        return await rig.service.notices.held_notice(conversation)

    assert await held_notice(first.id) == replies.HELD_NOTICE + " You're next in the queue."
    assert await held_notice(second.id) == replies.HELD_NOTICE + " You're number 2 in the queue."
    sam = rig.staff()
    await rig.service.assign(conversation_id=first.id, staff_id=sam, may_take_over=False)
    assert await held_notice(first.id) == replies.HELD_NOTICE  # with a person now: no queue to speak of
    assert await held_notice(second.id) == replies.HELD_NOTICE + " You're next in the queue."


class Alerts:
    def __init__(self) -> None:
        self.sent: list[HandoffAlert] = []

    async def new_handoff(self, alert: HandoffAlert) -> None:
        self.sent.append(alert)


async def test_the_staff_alert_says_what_waits_and_links_the_console(handoff_rig: HandoffRig) -> None:
    rig = handoff_rig
    await rig.handed_off(address="already-waiting")
    conversation = await rig.conversation(address="new")
    alerts = Alerts()
    rig.service.notices.alerts = alerts
    queued = QueuedHandoff(id=7, reason="complaint", priority=10, verified=True, new=True)
    await rig.service.notices.alert(conversation, queued)
    assert alerts.sent == [
        HandoffAlert(
            conversation_id=conversation.id, channel="web", reason="complaint", priority=10, verified=True,
            waiting=1, console_url=f"https://shop.example/staff/conversations/{conversation.id}",
        ),
    ]  # fmt: skip


def test_the_shop_profile_is_read_or_left_out_with_a_warning(
    unreadable_profile: Callable[[ModuleType], str], caplog: pytest.LogCaptureFixture
) -> None:
    assert notices.shop_profile() == load_shop_profile()
    where = unreadable_profile(notices)
    with caplog.at_level(logging.WARNING, "bot.core.notices"):
        assert notices.shop_profile() is None
    assert any(where in r.getMessage() for r in caplog.records)
