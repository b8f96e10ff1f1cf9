"""Keeping the promise of an acknowledgement: every stored customer message ends answered or apologised.

`TurnKeeper` runs each customer turn between two durable marks (bot/turns.py)
and closes the turns the normal path could not:

- the database fails after the message was stored: the customer hears Rasa's
  answer (or the apology) straight away, and what the transcript must hold is
  written behind, once the database takes writes again;
- the gateway stopped mid-turn (a crash, a deploy): the recovery pass, at
  start-up and then periodically, finds turns whose lease ran out and finishes
  them (asks the assistant again when it was never asked) or apologises, once,
  on the customer's own channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot import replies, turns
from bot.core.messages import ConversationRef, InboundMessage, OutboundMessage, unstored_reply
from bot.core.outcomes import Outcome
from bot.core.turn_policy import TurnPolicy, UnsavedReplies, failure_kind, turn_message
from bot.locks import TurnUnavailable
from bot.logs import conversation_context
from bot.metrics import Metrics
from bot.persistence import rows
from bot.persistence.states import HELD_STATES
from bot.rasa import RasaFailure
from crm.clock import utcnow
from crm.models import Sender, TurnState

if TYPE_CHECKING:
    from bot.conversations import ConversationService

logger = logging.getLogger(__name__)

# Failures after which Rasa may have taken the message in (and answered into its tracker).
_MAYBE_SEEN = frozenset({"timeout", "empty", "http_error", "malformed", "abandoned"})
# Tries to rewind Rasa's tracker before giving up on it (logged).
_FORGET_TRIES = 5

_REFS_KEPT = 5000


class TurnKeeper:
    def __init__(
        self,
        service: ConversationService,
        *,
        metrics: Metrics,
        contact: Callable[[], str | None],
        policy: TurnPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._contact = contact
        self.policy = policy
        self._clock = clock
        # Message ids whose turn this gateway is running or has queued.
        self.in_flight: set[int] = set()
        self._owed: list[turns.Owed] = []
        self._refs: dict[str, ConversationRef] = {}
        # How Rasa read each running turn's message: written with the turn's final mark.
        self._readings: dict[int, turns.Reading] = {}
        # Turns Rasa must forget (conversation id, message id, tries so far).
        self._unsynced: list[tuple[str, int, int]] = []
        self._loop: asyncio.Task[None] | None = None

    # -- the normal path -----------------------------------------------------------------

    def remember(self, conversation: ConversationRef) -> None:
        """Where to reach the customer when the database cannot say (kept in memory, bounded)."""
        if len(self._refs) >= _REFS_KEPT:
            self._refs.pop(next(iter(self._refs)))
        self._refs[conversation.id] = conversation

    def read_as(self, message_id: int, reading: turns.Reading) -> None:
        """How Rasa read this turn's message; stored when the turn is settled."""
        self._readings[message_id] = reading

    async def run(self, inbound: InboundMessage, message_id: int, *, notice_order: str | None = None) -> Outcome:
        """One customer turn (the caller holds the conversation's place in line)."""
        service = self._service
        conversation_id = inbound.conversation_id
        token = failure_kind.set("assistant")
        tagged = turn_message.set(message_id)
        try:
            try:
                async with service._guard.hold(conversation_id):
                    context = await service._note(
                        turns.begin, message_id=message_id, conversation_id=conversation_id
                    )
                    outcome = await service._take_turn(
                        inbound, message_id=message_id, notice_order=notice_order, context=context
                    )
            except TurnUnavailable:
                logger.warning("conversation lock busy; assistant not asked")
                outcome = await service._fail(conversation_id, "lock")
        except UnsavedReplies as unsaved:
            return await self._deliver_unsaved(message_id, unsaved)
        except SQLAlchemyError as exc:
            logger.error("database failed during a turn: %s", type(exc).__name__)
            return await self._apologise_unstored(inbound, message_id, "database")
        finally:
            kind = failure_kind.get()
            failure_kind.reset(token)
            turn_message.reset(tagged)
            reading = self._readings.pop(message_id, None)
        await self._settle(message_id, inbound, outcome, kind, reading)
        return outcome

    async def _settle(
        self,
        message_id: int,
        inbound: InboundMessage,
        outcome: Outcome,
        kind: str,
        reading: turns.Reading | None,
    ) -> None:
        state = {
            Outcome.answered: TurnState.answered,
            Outcome.failed: TurnState.apologised,
            Outcome.held: TurnState.held,
        }.get(outcome)
        if state is None:
            return
        reason = kind if state == TurnState.apologised else None
        if state == TurnState.apologised:
            self._given_up(reason or "assistant", message_id)
        try:
            await self._service._note(
                turns.finish, message_id=message_id, state=state, reason=reason, reading=reading
            )
        except SQLAlchemyError:
            self._owe(turns.Owed(message_id, inbound.conversation_id, inbound.channel, state, reason))
        if state == TurnState.apologised and kind in _MAYBE_SEEN:
            self._unsynced.append((inbound.conversation_id, message_id, 0))
            self._service._spawn(self._forget_owed())

    async def _apologise_unstored(self, inbound: InboundMessage, message_id: int, reason: str) -> Outcome:
        """The database failed mid-turn: apologise now from memory, write it down later."""
        self._metrics.failures.labels(reason).inc()
        self._given_up(reason, message_id)
        text = replies.apology(await asyncio.to_thread(self._contact))
        conversation = await self._reference(inbound.conversation_id)
        delivered = False
        if conversation is not None:
            await self._service._deliver(
                conversation,
                OutboundMessage(id=f"apology-{message_id}", sender=Sender.system, text=text, created_at=utcnow()),
            )
            delivered = True
        self._owe(
            turns.Owed(
                message_id,
                inbound.conversation_id,
                inbound.channel,
                TurnState.apologised,
                reason,
                apology=text,
                delivered=delivered,
            )
        )
        return Outcome.failed

    async def _deliver_unsaved(self, message_id: int, unsaved: UnsavedReplies) -> Outcome:
        """Rasa answered but the transcript would not take it: the customer gets the answer anyway.

        Rasa's tracker already holds it, so the transcript must too: written behind.
        """
        conversation = unsaved.conversation
        now = utcnow()
        for index, reply in enumerate(r for r in unsaved.answer if r.visible):
            await self._service._deliver(
                conversation, unstored_reply(reply, id=f"reply-{message_id}-{index}", created_at=now)
            )
        self._owe(
            turns.Owed(
                message_id,
                conversation.id,
                conversation.channel,
                TurnState.answered,
                answer=tuple(unsaved.answer),
            )
        )
        return Outcome.answered

    async def _reference(self, conversation_id: str) -> ConversationRef | None:
        known = self._refs.get(conversation_id)
        if known is not None:
            return known
        try:
            return await self._service._read(rows.get_conversation, conversation_id=conversation_id)
        except SQLAlchemyError:
            return None

    def _owe(self, owed: turns.Owed) -> None:
        self._owed.append(owed)
        logger.warning(
            "turn outcome kept in memory until the database is back",
            extra={"message_id": owed.message_id, "turn_state": owed.state.value},
        )

    def _given_up(self, reason: str, message_id: int) -> None:
        self._metrics.turns_given_up.labels(reason).inc()
        logger.warning("turn given up: the customer got the apology", extra={"reason": reason, "message_id": message_id})

    # -- the recovery pass ---------------------------------------------------------------

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.create_task(self._periodically())

    async def aclose(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def _periodically(self) -> None:
        while True:
            try:
                await self.recover_once()
            except SQLAlchemyError as exc:
                logger.warning("turn recovery pass skipped: database unavailable (%s)", type(exc).__name__)
            await asyncio.sleep(self.policy.interval_seconds)

    async def _forget_owed(self) -> None:
        """Rewind Rasa's tracker for apologised turns it may have answered (see RasaClient.forget_turn)."""
        pending, self._unsynced = self._unsynced, []
        for conversation_id, message_id, tries in pending:
            reason = "not_seen_yet"
            try:
                state = await self._service._db(turns.state_of, message_id=message_id)
                if state in turns.FINAL and state != TurnState.apologised:
                    continue  # taken up again (the customer resent it): its new turn is Rasa's to keep
                if state == TurnState.apologised and await self._service._rasa.forget_turn(sender=conversation_id, message_id=str(message_id)):
                    logger.info("failed turn undone in Rasa's tracker", extra={"message_id": message_id})
                    continue
            except RasaFailure as failure:
                reason = failure.kind
            except SQLAlchemyError:
                reason = "database"
            # A slow Rasa may not have taken it in yet: look again on the next passes.
            if tries + 1 < _FORGET_TRIES:
                self._unsynced.append((conversation_id, message_id, tries + 1))
            elif reason != "not_seen_yet":
                logger.warning(
                    "Rasa's tracker may keep an answer the customer never saw",
                    extra={"message_id": message_id, "kind": reason},
                )

    async def recover_once(self) -> int:
        """Write what is owed, then close every abandoned turn; how many turns it closed."""
        if self._unsynced:
            await self._forget_owed()
        closed = await self._pay_owed()
        await self._service.deliveries.pay(self._send_owed, now=self._clock())
        found = await self._service._db(
            turns.stranded, leased_before=self._clock() - self.policy.lease, skip=set(self.in_flight)
        )
        for turn in found:
            if turn.message_id in self.in_flight:
                continue
            if not await self._service._db(turns.take, turn=turn):
                continue  # another gateway's pass took it
            with conversation_context(turn.conversation_id):
                await self._recover(turn)
            closed += 1
        return closed

    async def _send_owed(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        if conversation.channel not in self._service._channels:
            raise LookupError(f"no {conversation.channel!r} channel on this gateway")
        with conversation_context(conversation.id):
            await self._service._deliver(conversation, outbound, mark=False)
        self._metrics.turns_recovered.labels("redelivered").inc()

    async def _pay_owed(self) -> int:
        paid = 0
        while self._owed:
            owed = self._owed[0]
            outbound = await self._service._db(turns.write_owed, owed=owed)
            self._owed.pop(0)
            paid += 1
            self._metrics.turns_recovered.labels("written").inc()
            if outbound is not None and not owed.delivered:
                conversation = await self._service._db(rows.get_conversation, conversation_id=owed.conversation_id)
                if conversation is not None:
                    await self._service._deliver(conversation, outbound)
        return paid

    async def _recover(self, turn: turns.Stranded) -> None:
        service = self._service
        db = service._db
        if await db(turns.replied_after, message_id=turn.message_id, conversation_id=turn.conversation_id):
            # Answered, then stopped before the mark.
            await db(turns.mark, message_id=turn.message_id, state=TurnState.answered, reason="recovered")
            self._metrics.turns_recovered.labels("replied").inc()
            return
        state = await db(turns.conversation_state, conversation_id=turn.conversation_id)
        if state in HELD_STATES:
            await db(turns.mark, message_id=turn.message_id, state=TurnState.held, reason="recovered")
            self._metrics.turns_recovered.labels("held").inc()
            return
        young = self._clock() - turn.created_at < self.policy.resume_max_age
        if turn.state == TurnState.received and young and turn.channel in service._channels:
            # Rasa never saw it: asking now keeps the dialogue whole.
            self._metrics.turns_recovered.labels("resumed").inc()
            logger.info("stranded turn resumed", extra={"message_id": turn.message_id})
            self.in_flight.add(turn.message_id)
            line = service._turns.enter(turn.conversation_id)
            service._spawn(self._resume(turn, line))
            return
        reason = "abandoned" if turn.state == TurnState.processing else "too_old"
        if turn.channel not in service._channels:
            reason = "no_channel"
        text = replies.apology(await asyncio.to_thread(self._contact))
        outbound = await db(
            turns.apologise,
            message_id=turn.message_id,
            conversation_id=turn.conversation_id,
            channel=turn.channel,
            text=text,
            reason=reason,
        )
        if outbound is None:
            return  # closed meanwhile
        self._given_up(reason, turn.message_id)
        self._metrics.turns_recovered.labels("apologised").inc()
        if reason in _MAYBE_SEEN:
            self._unsynced.append((turn.conversation_id, turn.message_id, 0))
            service._spawn(self._forget_owed())
        conversation = await db(rows.get_conversation, conversation_id=turn.conversation_id)
        if conversation is not None and turn.channel in service._channels:
            await service._deliver(conversation, outbound)

    async def _resume(self, turn: turns.Stranded, line: Any) -> None:
        inbound = InboundMessage(
            channel=turn.channel,
            conversation_id=turn.conversation_id,
            channel_message_id=turn.channel_message_id or f"recovered-{turn.message_id}",
            text=turn.text,
            payload=turn.payload,
            payload_title=turn.payload_title,
        )
        try:
            await line.wait()
            with conversation_context(turn.conversation_id):
                await self.run(inbound, turn.message_id)
        finally:
            line.release()
            self.in_flight.discard(turn.message_id)

