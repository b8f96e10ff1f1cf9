"""Staff take a conversation over and reply in it, through the conversation's ordered outbox."""

from __future__ import annotations

import logging

from bot.core.messages import DeliveryFailed, OutboundMessage
from bot.core.parts import Parts
from bot.logs import conversation_context
from bot.persistence import states

logger = logging.getLogger(__name__)


class StaffDesk:
    def __init__(self, parts: Parts) -> None:
        self._uow, self._outbox, self._events = parts.uow, parts.outbox, parts.events

    async def assign(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> states.Assignment:
        """Give the conversation to a staff member, from the queue or straight from the bot.

        From this moment the bot is silent: a reply Rasa is still working on is
        stored as suppressed and never delivered (see save_bot_replies).
        """
        undelivered: Exception | None = None
        async with self._outbox.ordered(conversation_id):
            assignment = await self._uow.db(
                states.assign_conversation,
                conversation_id=conversation_id,
                staff_id=staff_id,
                may_take_over=may_take_over,
            )
            if assignment.notice is not None:
                try:
                    await self._outbox.deliver(assignment.conversation, assignment.notice)
                except Exception as exc:
                    # The assignment stands (the notice is in the transcript); the caller hears below.
                    undelivered = exc
        if assignment.notice is not None:
            with conversation_context(conversation_id):
                logger.info(
                    "conversation assigned",
                    extra={"staff_user_id": staff_id, "from_state": assignment.previous_state.value},
                )
            await self._outbox.publish_state(conversation_id)
            await self._events.queue("assigned")
        if undelivered is not None:
            raise DeliveryFailed(type(undelivered).__name__) from undelivered
        return assignment

    async def reply(
        self, *, conversation_id: str, staff_id: int, staff_name: str, text: str
    ) -> OutboundMessage:
        """Store a reply from the assigned staff member and send it on the customer's channel.

        In the conversation's outbox line, like bot replies and notices: it never
        overtakes a message stored before it. DeliveryFailed: stored (it is in
        the transcript) but the channel could not take it now.
        """
        async with self._outbox.ordered(conversation_id):
            conversation, outbound = await self._uow.db(
                states.add_staff_reply, conversation_id=conversation_id, staff_id=staff_id, text=text
            )
            try:
                await self._outbox.deliver(conversation, outbound, staff_name=staff_name)
            except DeliveryFailed:
                raise
            except Exception as exc:
                # Whatever the channel's client raised, the console must say the reply did not go out.
                raise DeliveryFailed(type(exc).__name__) from exc
        return outbound
