"""One turn with the assistant: ask Rasa, store and deliver its replies; whatever Rasa does,
the customer hears something true (an answer, the held notice, or the apology)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

from bot import handoff, replies
from bot.core.messages import BotReply, ConversationRef, InboundMessage
from bot.core.notices import HandoffNotices
from bot.core.outcomes import Outcome
from bot.core.parts import Parts
from bot.core.turn_policy import failure_kind, turn_message
from bot.persistence import replies as turn_replies
from bot.persistence import rows, states
from bot.persistence.handoffs import QueuedHandoff
from bot.persistence.replies import SavedReplies
from bot.rasa import RasaClient, RasaFailure, RasaMetadata
from bot.recovery import TurnKeeper
from bot.turns import Reading
from crm.services import review
from crm.services.verification_limits import client_fingerprint
from crm.vocabulary import ConversationState

logger = logging.getLogger(__name__)

# Leading slashes are how Rasa's REST input spells an intent ("/greet"); Rasa
# strips whitespace first, so " /greet" is one too.
_INTENT_PREFIX = re.compile(r"^[\s/]+")


def neutralise(text: str) -> str:
    """Free text as Rasa should read it: never as an intent the customer typed."""
    return _INTENT_PREFIX.sub("", text)


class Assistant:
    def __init__(
        self,
        parts: Parts,
        *,
        notices: HandoffNotices,
        rasa: RasaClient,
        contact: Callable[[], str | None],
        review_threshold: float,
        resuming: set[str],
    ) -> None:
        self._uow, self._outbox, self._events = parts.uow, parts.outbox, parts.events
        self._metrics, self._background = parts.metrics, parts.background
        self._notices = notices
        self.rasa = rasa
        self._contact = contact
        self._review_threshold = review_threshold
        # Conversations staff just resolved whose resume turn is still ahead (shared with Handback).
        self._resuming = resuming
        self.turns: TurnKeeper | None = None

    async def take_turn(
        self,
        inbound: InboundMessage,
        *,
        message_id: int | None = None,
        notice_order: str | None = None,
        context: turn_replies.TurnContext | None = None,
    ) -> Outcome:
        """One turn; `context`: the conversation as the turn keeper read it when the turn began."""
        if context is None:
            context = await self._uow.db(turn_replies.turn_context, conversation_id=inbound.conversation_id)
        conversation = context.conversation
        if self.turns is not None:
            self.turns.remember(conversation)
        if inbound.payload in handoff.CHOICES:
            await self._notices.answer_choice(conversation, inbound.payload or "")
            return Outcome.answered
        if conversation.state in states.HELD_STATES:
            if context.notice_due:
                await self._outbox.say(
                    conversation, await self._notices.held_notice(conversation), {"kind": "held_notice"}
                )
            await self._events.queue("message")
            logger.info("message kept for staff", extra={"state": conversation.state.value})
            return Outcome.held
        if conversation.state == ConversationState.resolved:
            if conversation.id in self._resuming:
                # Staff just handed back; the bot's first words (the rating question) are next in line.
                logger.info("message kept: the bot is about to resume")
                return Outcome.held
            # A resume that never finished (its gateway stopped): the bot carries on.
            await self._uow.db(states.finish_resume, conversation_id=conversation.id)
        message = inbound.payload if inbound.payload is not None else neutralise(inbound.text)
        if not message:
            await self._outbox.say(conversation, replies.EMPTY_AFTER_NEUTRALISING, {"kind": "empty"})
            return Outcome.answered
        answer, saved = await self._converse(
            conversation, message, self._metadata(conversation, inbound, notice_order)
        )
        await self._record_reading(answer, message_id)
        if isinstance(answer, RasaFailure):
            current = await self._uow.db(rows.get_conversation, conversation_id=conversation.id)
            if current is not None and current.state in states.HELD_STATES:
                # A person took over meanwhile; they answer, not the apology.
                return Outcome.held
            return await self.fail(conversation.id, answer.kind)
        assert saved is not None
        if saved.suppressed:
            logger.info("bot reply not sent: staff took over during the turn")
            return Outcome.held
        if saved.queued is not None:
            await self._handed_off(conversation, saved.queued)
        return Outcome.answered

    @staticmethod
    def _metadata(
        conversation: ConversationRef, inbound: InboundMessage, notice_order: str | None
    ) -> RasaMetadata:
        return RasaMetadata(
            channel=conversation.channel,
            customer_id=conversation.customer_external_id,
            locale=conversation.locale,
            extra={
                # Verification limits count per client: the widget's IP, else the chat or number replies go to.
                "client": client_fingerprint(
                    inbound.client_address or f"{conversation.channel}:{conversation.address}"
                ),
                # An answer to an order notice ("where is it now?") is about that order.
                **({"order_in_context": notice_order} if notice_order else {}),
            },
        )

    async def _converse(
        self, conversation: ConversationRef, message: str, metadata: RasaMetadata
    ) -> tuple[list[BotReply] | RasaFailure, SavedReplies | None]:
        channel = self._outbox.channels[conversation.channel]
        saved: SavedReplies | None = None
        await channel.typing(conversation, True)
        try:
            answer = await self.ask_rasa(conversation.id, message, metadata)
            if not isinstance(answer, RasaFailure):
                saved = await self._outbox.save_and_deliver(
                    conversation, answer, expected=ConversationState.bot
                )
                if saved.handoff:
                    # Before "typing off": a client may take that as the end of the turn.
                    await self._notices.tell_queue(conversation, bare=not saved.visible)
        finally:
            # After the replies, so a client can take "typing off" as the end of the turn.
            await channel.typing(conversation, False)
        return answer, saved

    async def _record_reading(self, answer: list[BotReply] | RasaFailure, message_id: int | None) -> None:
        parse = getattr(answer, "parse", None)
        if parse is None or message_id is None:
            return
        reading = Reading(
            intent=parse.intent,
            confidence=parse.confidence,
            ranking=parse.ranking,
            threshold=self._review_threshold,
        )
        # After the customer has the answer: bookkeeping never delays or loses a reply.
        if self.turns is not None:
            # Written with the turn's final mark, one unit of work for both (bot/recovery.py).
            self.turns.read_as(message_id, reading)
            return
        await self._uow.note(
            review.record_reading,
            message_id=message_id,
            intent=reading.intent,
            confidence=reading.confidence,
            ranking=reading.ranking,
            threshold=reading.threshold,
        )

    async def _handed_off(self, conversation: ConversationRef, queued: QueuedHandoff) -> None:
        self._metrics.handoffs.labels(conversation.channel).inc()
        logger.info(
            "conversation handed to staff",
            extra={
                "handoff_id": queued.id,
                "reason": queued.reason,
                "priority": queued.priority,
                "new_handoff": queued.new,
            },
        )
        await self._events.queue("handoff", conversation_id=conversation.id)
        await self._outbox.publish_state(conversation.id)
        if self._notices.alerts is not None:
            self._background.spawn(self._notices.alert(conversation, queued))

    async def ask_rasa(
        self, sender: str, message: str, metadata: RasaMetadata
    ) -> list[BotReply] | RasaFailure:
        started = time.perf_counter()
        try:
            tag = turn_message.get()
            bot_replies = await self.rasa.send(
                sender=sender,
                message=message,
                metadata=metadata,
                message_id=None if tag is None else str(tag),
            )
            if not bot_replies:
                # Rasa swallows action-server failures and answers with nothing;
                # silence would leave the customer waiting forever.
                raise RasaFailure("empty", "no reply at all")
        except RasaFailure as failure:
            logger.warning(
                "assistant failed to answer", extra={"kind": failure.kind, "detail": failure.detail}
            )
            return failure
        finally:
            self._metrics.rasa_latency.observe(time.perf_counter() - started)
        return bot_replies

    async def fail(self, conversation_id: str, kind: str) -> Outcome:
        """The apology: true (we could not answer), and how to reach a person."""
        self._metrics.failures.labels(kind).inc()
        failure_kind.set(kind)
        conversation = await self._uow.db(rows.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            raise LookupError("conversation vanished during its turn")
        contact = await asyncio.to_thread(self._contact)
        await self._outbox.say(conversation, replies.apology(contact), {"kind": "apology", "failure": kind})
        return Outcome.failed
