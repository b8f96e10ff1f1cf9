"""The inbound pipeline: claim the message, store it, then take its turn in arrival order.

For each message: claim it (the unique channel message id makes a redelivery a
no-op), store it, then - one message per conversation at a time, in arrival
order - hand it to the turn keeper, which asks the assistant or keeps it for staff.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot import turns
from bot.core.frames import customer_message, staff_conversation_key, staff_frame
from bot.core.messages import InboundMessage
from bot.core.outcomes import OnStored, Outcome, Receipt
from bot.core.parts import Parts
from bot.locks import KeyedFifo, Turn
from bot.logs import conversation_context
from bot.persistence.claims import Claim, claim_inbound
from bot.recovery import TurnKeeper
from crm.clock import utcnow

logger = logging.getLogger(__name__)


def receipt(inbound: InboundMessage, claim: Claim | None) -> Receipt:
    if claim is None:
        return Receipt(inbound.conversation_id, inbound.channel_message_id, duplicate=True)
    return Receipt(
        conversation_id=inbound.conversation_id,
        channel_message_id=inbound.channel_message_id,
        duplicate=False,
        message_id=claim.message_id,
        text=claim.text,
        created_at=claim.created_at,
        rejection=claim.rejection,
    )


class Inbound:
    def __init__(
        self,
        parts: Parts,
        *,
        keeper: TurnKeeper,
        turns: KeyedFifo,
    ) -> None:
        self._uow, self._outbox, self._events = parts.uow, parts.outbox, parts.events
        self._metrics, self._background = parts.metrics, parts.background
        self._keeper = keeper
        # Two lines per conversation: a short one for storing (so the transcript
        # keeps arrival order) and the long one for turns (shared with handback).
        self._storing = KeyedFifo()
        self._turns = turns

    def submit(self, inbound: InboundMessage, *, on_stored: OnStored | None = None) -> asyncio.Task[Outcome]:
        """Start handling `inbound` in the background; its place in line is taken now."""
        if inbound.channel not in self._outbox.channels:
            raise ValueError(f"no channel registered as {inbound.channel!r}")
        storing = self._storing.enter(inbound.conversation_id)
        return self._background.spawn(self._handle(inbound, storing, on_stored))

    async def _handle(self, inbound: InboundMessage, storing: Turn, on_stored: OnStored | None) -> Outcome:
        with conversation_context(inbound.conversation_id):
            try:
                await storing.wait()
                claim = await self._uow.db(claim_inbound, inbound=inbound)
                resent = claim is None and await self._resent(inbound)
                if resent:
                    claim = resent
                # Entering the turn line before leaving the storing line keeps both in one order.
                turn = (
                    None if claim is None or claim.rejection else self._turns.enter(inbound.conversation_id)
                )
            except SQLAlchemyError as exc:
                self._metrics.failures.labels("database").inc()
                logger.error("could not store a customer message: %s", exc)
                if on_stored is not None:
                    await on_stored(
                        Receipt(
                            inbound.conversation_id,
                            inbound.channel_message_id,
                            duplicate=False,
                            unavailable=True,
                        )
                    )
                return Outcome.unstored
            finally:
                storing.release()
            if claim is None:
                self._metrics.duplicates.labels(inbound.channel).inc()
                logger.info("duplicate message dropped", extra={"channel": inbound.channel})
                if on_stored is not None:
                    await on_stored(receipt(inbound, None))
                return Outcome.duplicate
            return await self._stored(inbound, claim, turn, resent=bool(resent), on_stored=on_stored)

    async def _stored(
        self,
        inbound: InboundMessage,
        claim: Claim,
        turn: Turn | None,
        *,
        resent: bool,
        on_stored: OnStored | None,
    ) -> Outcome:
        self._metrics.messages.labels(inbound.channel, "in").inc()
        if claim.notice_order is not None:
            self._metrics.notices.labels("replied", "", inbound.channel).inc()
        await self._events.publish(
            staff_conversation_key(inbound.conversation_id),
            staff_frame(customer_message(claim.message_id, claim.text, claim.created_at)),
        )
        try:
            if on_stored is not None:
                # A resent id taken up again is acknowledged as the duplicate it is, then answered.
                await on_stored(receipt(inbound, None if resent else claim))
            if turn is None:
                self._metrics.rejected.labels(inbound.channel, claim.rejection or "").inc()
                logger.info("button payload refused", extra={"reason": claim.rejection})
                return Outcome.rejected
            self._keeper.in_flight.add(claim.message_id)
            await turn.wait()
            return await self._keeper.run(inbound, claim.message_id, notice_order=claim.notice_order)
        finally:
            self._keeper.in_flight.discard(claim.message_id)
            if turn is not None:
                turn.release()

    async def _resent(self, inbound: InboundMessage) -> Claim | None:
        """A resent id whose turn ended in an apology or was abandoned: taken up again, not dropped."""
        claim = await self._uow.db(
            turns.reclaim,
            channel=inbound.channel,
            channel_message_id=inbound.channel_message_id,
            leased_before=utcnow() - self._keeper.policy.lease,
            skip=set(self._keeper.in_flight),
        )
        if claim is not None:
            logger.info("resent message taken up again", extra={"message_id": claim.message_id})
        return claim
