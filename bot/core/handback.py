"""Staff hand a conversation back: the handoff closes, and the bot resumes by asking how it went.

The resume turn runs in the background, in the conversation's turn line; while it
is ahead, customer messages wait for it (see `resuming`).
"""

from __future__ import annotations

import logging
import time

from bot import handoff
from bot.core.outcomes import Outcome
from bot.core.parts import Parts
from bot.locks import KeyedFifo, Turn, TurnGuard, TurnUnavailable
from bot.logs import conversation_context
from bot.persistence import rows, states
from bot.persistence.replies import SavedReplies
from bot.rasa import BotReply, RasaClient, RasaFailure
from crm.vocabulary import ConversationState

logger = logging.getLogger(__name__)

# What Rasa is told when staff hand a conversation back (domain.yml).
RESUME_INTENT = "handoff_resolved"


class Handback:
    def __init__(
        self,
        parts: Parts,
        *,
        rasa: RasaClient,
        guard: TurnGuard,
        turns: KeyedFifo,
        resuming: set[str],
    ) -> None:
        self._uow, self._outbox, self._events = parts.uow, parts.outbox, parts.events
        self._metrics, self._background = parts.metrics, parts.background
        self._rasa = rasa
        self._guard = guard
        self._turns = turns
        self._resuming = resuming

    async def resolve(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> states.Resolution:
        """Close the handoff and give the conversation back to the bot, which asks for a rating.

        Returns once the handoff is closed; the bot's turn (Rasa's trigger_intent)
        runs in the background, in the conversation's turn line.
        """
        marked = conversation_id not in self._resuming
        self._resuming.add(conversation_id)
        try:
            resolution = await self._uow.db(
                states.resolve_conversation,
                conversation_id=conversation_id,
                staff_id=staff_id,
                may_take_over=may_take_over,
            )
        except BaseException:
            if marked:
                self._resuming.discard(conversation_id)
            raise
        turn = self._turns.enter(conversation_id)
        self._background.spawn(self._resume(resolution, turn))
        with conversation_context(conversation_id):
            logger.info("conversation resolved by staff", extra={"staff_user_id": staff_id})
        await self._outbox.publish_state(conversation_id)
        await self._events.queue("resolved")
        return resolution

    async def _resume(self, resolution: states.Resolution, turn: Turn) -> Outcome:
        conversation_id = resolution.conversation.id
        with conversation_context(conversation_id):
            try:
                await turn.wait()
                async with self._guard.hold(conversation_id):
                    return await self._resume_turn(resolution)
            except TurnUnavailable:
                logger.warning("conversation lock busy; the bot resumes without asking for a rating")
                return Outcome.failed
            finally:
                try:
                    await self._uow.db(states.finish_resume, conversation_id=conversation_id)
                finally:
                    self._resuming.discard(conversation_id)
                    turn.release()
                await self._outbox.publish_state(conversation_id)

    async def _resume_turn(self, resolution: states.Resolution) -> Outcome:
        conversation = await self._uow.db(rows.get_conversation, conversation_id=resolution.conversation.id)
        if conversation is None:
            raise LookupError("conversation vanished while being handed back")
        channel = self._outbox.channels[conversation.channel]
        saved: SavedReplies | None = None
        await channel.typing(conversation, True)
        try:
            answer = await self._trigger_resume(conversation.id, resolution.staff_id)
            if not isinstance(answer, RasaFailure):
                saved = await self._outbox.save_and_deliver(
                    conversation,
                    answer,
                    expected=ConversationState.resolved,
                    next_state=ConversationState.bot,
                )
        finally:
            await channel.typing(conversation, False)
        if saved is not None and saved.suppressed:
            return Outcome.held  # taken over again before the bot spoke
        if saved is None or not saved.visible:
            # Rasa could not ask for the rating; the customer still learns the bot is back.
            await self._outbox.say(conversation, handoff.RESUMED, {"kind": "resumed"})
        return Outcome.failed if isinstance(answer, RasaFailure) else Outcome.answered

    async def _trigger_resume(self, conversation_id: str, staff_id: int) -> list[BotReply] | RasaFailure:
        started = time.perf_counter()
        try:
            return await self._rasa.trigger_intent(
                sender=conversation_id,
                intent=RESUME_INTENT,
                entities={"staff_user_id": str(staff_id)},
                end_active_loop=True,
            )
        except RasaFailure as failure:
            self._metrics.failures.labels(failure.kind).inc()
            logger.warning(
                "assistant could not resume after the handoff",
                extra={"kind": failure.kind, "detail": failure.detail},
            )
            return failure
        finally:
            self._metrics.rasa_latency.observe(time.perf_counter() - started)
