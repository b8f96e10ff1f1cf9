"""The ordered outbox: everything said to a customer is stored, then delivered, in one line per conversation.

Bot replies, staff replies, staff assignments and the gateway's own notices all
take the same short line (`ordered`): a bot reply stored before an assignment is
also delivered before the "… has joined" notice, and none after it; a staff reply
never overtakes the notice before it. Each message is stored `pending` and marked
`sent` (or `refused`) in the delivery ledger once its channel took it (bot/redelivery.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.core.db import UnitOfWork
from bot.core.frames import Events, staff_conversation_key, staff_frame
from bot.core.messages import BotReply, Button, Channel, ConversationRef, DeliveryFailed, OutboundMessage
from bot.core.turn_policy import UnsavedReplies
from bot.locks import KeyedFifo
from bot.metrics import Metrics
from bot.persistence import replies as turn_replies
from bot.persistence import rows, states, transcript
from bot.persistence.replies import SavedReplies
from bot.redelivery import DeliveryLedger
from crm.models import Delivery
from crm.vocabulary import ConversationState, Sender


class Outbox:
    def __init__(
        self, *, uow: UnitOfWork, metrics: Metrics, events: Events, deliveries: DeliveryLedger
    ) -> None:
        self._uow = uow
        self._metrics = metrics
        self._events = events
        # Replies stored but not yet sent: marked when sent, owed after a crash.
        self.deliveries = deliveries
        self.channels: dict[str, Channel] = {}
        self._line = KeyedFifo()

    @contextlib.asynccontextmanager
    async def ordered(self, conversation_id: str) -> AsyncIterator[None]:
        """The conversation's outbox line: store and deliver inside it, in arrival order."""
        place = self._line.enter(conversation_id)
        try:
            await place.wait()
            yield
        finally:
            place.release()

    async def deliver(
        self,
        conversation: ConversationRef,
        outbound: OutboundMessage,
        *,
        staff_name: str | None = None,
        mark: bool = True,
    ) -> None:
        """Show a stored message to staff watching, then send it on the customer's channel.

        `mark`: record it sent (or refused) in the ledger now.
        """
        await self._events.publish(staff_conversation_key(conversation.id), staff_frame(outbound, staff_name))
        channel = self.channels.get(conversation.channel)
        if channel is None:
            raise DeliveryFailed(f"no {conversation.channel!r} channel on this gateway")
        try:
            await channel.send(conversation, outbound)
        except DeliveryFailed:
            await self.deliveries.mark([outbound.id], Delivery.refused)
            raise
        self._metrics.messages.labels(conversation.channel, "out").inc()
        if mark:
            await self.deliveries.mark([outbound.id], Delivery.sent)

    async def say(
        self,
        conversation: ConversationRef,
        text: str,
        data: dict[str, Any],
        *,
        buttons: tuple[Button, ...] = (),
    ) -> None:
        """A message from the gateway itself: stored like any other, then delivered."""
        if buttons:
            data = {**data, "buttons": [b.as_json() for b in buttons]}
        async with self.ordered(conversation.id):
            outbound = await self._uow.db(
                transcript.add_outbound,
                conversation_id=conversation.id,
                channel=conversation.channel,
                sender=Sender.system,
                text=text,
                data=data,
                pending=True,
            )
            await self.deliver(conversation, outbound)

    async def save_and_deliver(
        self,
        conversation: ConversationRef,
        answer: list[BotReply],
        *,
        expected: ConversationState,
        next_state: ConversationState = ConversationState.bot,
    ) -> SavedReplies:
        """A turn's replies, stored if the conversation is still in `expected`, then delivered in order."""
        async with self.ordered(conversation.id):
            try:
                saved = await self._uow.note(
                    turn_replies.save_bot_replies,
                    conversation_id=conversation.id,
                    channel=conversation.channel,
                    replies=answer,
                    expected_state=expected,
                    next_state=next_state,
                )
            except SQLAlchemyError as exc:
                raise UnsavedReplies(conversation, answer) from exc
            sent: list[str] = []
            try:
                for outbound in saved.visible:
                    await self.deliver(conversation, outbound, mark=False)
                    sent.append(outbound.id)
            finally:
                await self.deliveries.mark(sent, Delivery.sent)
        if saved.suppressed:
            await self._events.publish(staff_conversation_key(conversation.id), {"type": "reload"})
        return saved

    async def publish_state(self, conversation_id: str) -> None:
        """The conversation's state and holder, for staff consoles watching it."""
        conversation = await self._uow.db(rows.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            return
        holder = await self._uow.db(states.assignee, conversation_id=conversation_id)
        await self._events.publish(
            staff_conversation_key(conversation_id),
            {"type": "state", "state": conversation.state.value, "assignee": holder},
        )
