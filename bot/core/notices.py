"""What the gateway itself tells a customer around a handoff: their place in the queue,
that a person will answer, the out-of-hours choice; and the staff alert."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot import handoff, replies
from bot.core.messages import ConversationRef
from bot.core.parts import Parts
from bot.persistence import queue, rows
from bot.persistence.handoffs import QueuedHandoff
from crm.shop import ShopProfile, ShopProfileError, load_shop_profile
from crm.vocabulary import ConversationState

logger = logging.getLogger(__name__)


def shop_profile() -> ShopProfile | None:
    try:
        return load_shop_profile()
    except ShopProfileError as exc:
        # Without hours the queue notice promises nothing about them.
        logger.warning("shop profile unreadable; handoff notices without opening hours: %s", exc)
        return None


class HandoffNotices:
    def __init__(
        self,
        parts: Parts,
        *,
        shop_profile: Callable[[], ShopProfile | None] = shop_profile,
        clock: Callable[[], datetime],
        default_wait: timedelta,
        alerts: handoff.StaffAlerts | None = None,
        console_url: str | None = None,
    ) -> None:
        self._uow, self._outbox, self._events = parts.uow, parts.outbox, parts.events
        self._shop_profile = shop_profile
        self._clock = clock
        self._default_wait = default_wait
        self.alerts = alerts
        self._console_url = console_url.rstrip("/") if console_url else None

    async def tell_queue(self, conversation: ConversationRef, *, bare: bool) -> None:
        """Right after a handoff: the customer's place in the queue and the wait, or the hours.

        `bare`: the bot sent only the handoff signal, so this notice also says
        that a person will reply (and counts as the held notice).
        """
        profile = await asyncio.to_thread(self._shop_profile)
        now = self._clock()
        status = await self._uow.db(
            queue.queue_status, conversation_id=conversation.id, now=now, default_wait=self._default_wait
        )
        notice = handoff.queue_notice(status, profile, now)
        text, data = notice.text, dict(notice.data or {})
        if bare:
            text = f"{replies.HELD_NOTICE}\n{text}"
            data["kind"] = "held_notice"
        await self._outbox.say(conversation, text, data, buttons=notice.buttons)

    async def held_notice(self, conversation: ConversationRef) -> str:
        if conversation.state != ConversationState.queued:
            return replies.HELD_NOTICE
        status = await self._uow.db(
            queue.queue_status,
            conversation_id=conversation.id,
            now=self._clock(),
            default_wait=self._default_wait,
        )
        if status.position is None or status.position <= 1:
            return replies.HELD_NOTICE + " You're next in the queue."
        return replies.HELD_NOTICE + f" You're number {status.position} in the queue."

    async def answer_choice(self, conversation: ConversationRef, payload: str) -> None:
        """The out-of-hours choice (call back, or reply here): the gateway's to answer, not Rasa's."""
        profile = await asyncio.to_thread(self._shop_profile)
        now = self._clock()
        back = profile.when_back(now) if profile is not None else None
        phone = None
        if payload == handoff.CALLBACK:
            phone = await self._uow.db(rows.customer_phone, conversation_id=conversation.id)
        choice = "callback" if payload == handoff.CALLBACK else "reply_here"
        text = handoff.choice_reply(payload, phone_on_file=phone, back=back)
        await self._outbox.say(conversation, text, {"kind": "handoff_choice", "choice": choice})
        await self._events.queue("choice")
        logger.info("handoff choice recorded", extra={"choice": choice})

    async def alert(self, conversation: ConversationRef, queued: QueuedHandoff) -> None:
        """Tell staff (e.g. on Telegram) that a conversation is waiting for them."""
        assert self.alerts is not None
        waiting = len(await self._uow.db(queue.queue))
        await self.alerts.new_handoff(
            handoff.HandoffAlert(
                conversation_id=conversation.id,
                channel=conversation.channel,
                reason=queued.reason,
                priority=queued.priority,
                verified=queued.verified,
                waiting=waiting,
                console_url=(
                    f"{self._console_url}/staff/conversations/{conversation.id}"
                    if self._console_url
                    else None
                ),
            )
        )
