"""The conversation service: the one object channels and the staff console talk to.

A thin facade over the conversation core's collaborators (bot/core/): the inbound
pipeline (`Inbound`), one turn with the assistant (`Assistant`), the ordered outbox
(`Outbox`), handoff notices (`HandoffNotices`), staff actions (`StaffDesk`) and the
handback (`Handback`). Whatever Rasa does, the customer hears something true. This
module never imports a channel; channels register here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot import handoff, links, replies
from bot.core.assistant import Assistant, neutralise
from bot.core.db import OneWriter, UnitOfWork
from bot.core.frames import STAFF_QUEUE_KEY, Events, Publisher, staff_conversation_key, staff_frame
from bot.core.handback import RESUME_INTENT, Handback
from bot.core.inbound import Inbound
from bot.core.messages import Channel, ConversationRef, DeliveryFailed, InboundMessage, OutboundMessage
from bot.core.notices import HandoffNotices, shop_profile
from bot.core.outbox import Outbox
from bot.core.outcomes import OnStored, Outcome, Receipt
from bot.core.parts import Parts
from bot.core.staff import StaffDesk
from bot.core.tasks import Background
from bot.locks import KeyedFifo, LocalTurnGuard, TurnGuard
from bot.metrics import Metrics
from bot.persistence import rows, states
from bot.persistence import transcript as transcripts
from bot.persistence.queue import DEFAULT_WAIT
from bot.rasa import RasaClient
from bot.recovery import TurnKeeper, TurnPolicy
from bot.redelivery import DeliveryLedger
from crm.clock import utcnow
from crm.shop import ShopProfile

logger = logging.getLogger(__name__)

__all__ = [
    "RESUME_INTENT",
    "STAFF_QUEUE_KEY",
    "ConversationService",
    "DeliveryFailed",
    "OnStored",
    "Outcome",
    "Receipt",
    "neutralise",
    "staff_conversation_key",
    "staff_frame",
]


class ConversationService:
    def __init__(
        self,
        *,
        sessionmaker: sessionmaker[Session],
        rasa: RasaClient,
        metrics: Metrics,
        guard: TurnGuard | None = None,
        contact: Callable[[], str | None] = replies.shop_contact,
        history_limit: int = 200,
        events: Publisher | None = None,
        alerts: handoff.StaffAlerts | None = None,
        shop_profile: Callable[[], ShopProfile | None] = shop_profile,
        clock: Callable[[], datetime] = utcnow,
        default_wait: timedelta = DEFAULT_WAIT,
        console_url: str | None = None,
        review_threshold: float = 0.5,
        reads: sessionmaker[Session] | None = None,
        turn_policy: TurnPolicy | None = None,
        notes: sessionmaker[Session] | None = None,
        writer: OneWriter | None = None,
    ) -> None:
        # `notes`: the turn's bookkeeping, on commits that need not wait for the disk; `writer`: SQLite's
        # writes one at a time in this process (bot/core/db.py).
        self.uow = UnitOfWork(sessionmaker, reads=reads, notes=notes, writer=writer)
        self._rasa = rasa
        self._guard: TurnGuard = guard or LocalTurnGuard()
        self._contact = contact
        self._history_limit = history_limit
        self._clock = clock
        self._events = Events(events)
        self._background = Background()
        # The long line per conversation for turns: customer messages and the handback share it.
        self._turns = KeyedFifo()
        resuming: set[str] = set()  # conversations staff just resolved whose resume turn is still ahead
        policy = turn_policy or TurnPolicy()
        ledger = DeliveryLedger(self.uow.note, grace=policy.delivery_grace, max_age=policy.resume_max_age)
        self.outbox = Outbox(uow=self.uow, metrics=metrics, events=self._events, deliveries=ledger)
        # Replies stored but not yet sent: marked when sent, owed after a crash (bot/redelivery.py).
        self.deliveries = ledger
        parts = Parts(
            uow=self.uow,
            outbox=self.outbox,
            events=self._events,
            metrics=metrics,
            background=self._background,
        )
        self.notices = HandoffNotices(
            parts,
            shop_profile=shop_profile,
            clock=clock,
            default_wait=default_wait,
            alerts=alerts,
            console_url=console_url,
        )
        self.assistant = Assistant(
            parts,
            notices=self.notices,
            rasa=rasa,
            # Read at apology time, so a contact swapped on the service counts.
            contact=lambda: self._contact(),
            review_threshold=review_threshold,
            resuming=resuming,
        )
        self.staff = StaffDesk(parts)
        self.handback = Handback(parts, rasa=rasa, guard=self._guard, turns=self._turns, resuming=resuming)
        self.turns = TurnKeeper(self, metrics=metrics, contact=contact, policy=policy)
        self.assistant.turns = self.turns
        self.inbound = Inbound(parts, keeper=self.turns, turns=self._turns)
        # What the turn keeper (bot/recovery.py) reaches through the service.
        self._db = self.uow.db
        self._note = self.uow.note
        self._read = self.uow.read
        self._channels = self.outbox.channels
        self._deliver = self.outbox.deliver
        self._spawn = self._background.spawn
        self._take_turn = self.assistant.take_turn
        self._fail = self.assistant.fail

    def register_channel(self, channel: Channel) -> None:
        self.outbox.channels[channel.name] = channel

    def channel_names(self) -> set[str]:
        return set(self.outbox.channels)

    # -- conversations and who is in them ---------------------------------------------

    async def find_conversation(
        self, *, channel: str, address: str, idle_after: timedelta | None = None
    ) -> ConversationRef | None:
        """The newest conversation at `address`; with `idle_after`, only one active since then."""
        active_since = self._clock() - idle_after if idle_after is not None else None
        # A read: a returning customer gets their history while writes wait on a lock.
        return await self.uow.read(
            rows.find_conversation, channel=channel, address=address, active_since=active_since
        )

    async def start_conversation(
        self, *, channel: str, address: str, customer_external_id: str | None, locale: str
    ) -> ConversationRef:
        """A new conversation. Raises LookupError for an unknown customer id."""
        return await self.uow.db(
            rows.create_conversation,
            channel=channel,
            address=address,
            customer_external_id=customer_external_id,
            locale=locale,
        )

    async def bind_customer(self, conversation_id: str, customer_external_id: str) -> ConversationRef | None:
        """Attach a customer the channel verified; Rasa is told from the next message on.

        None for an unknown conversation; LookupError for an unknown customer;
        rows.CustomerConflict when the conversation already belongs to someone
        else (start a new conversation for this customer instead).
        """
        return await self.uow.db(
            rows.bind_customer, conversation_id=conversation_id, customer_external_id=customer_external_id
        )

    async def customer_for_identity(self, *, channel: str, external_user_id: str) -> str | None:
        """Who linked this channel account (e.g. a Telegram user id) to their CRM record, if anyone."""
        return await self.uow.db(
            rows.customer_by_identity, channel=channel, external_user_id=external_user_id
        )

    async def customer_for_phone(self, *, phone: str) -> str | None:
        """The customer whose CRM phone is this E.164 number; None if unknown or shared."""
        return await self.uow.db(rows.customer_by_phone, phone=phone)

    async def link_identity(self, *, customer_external_id: str, channel: str, external_user_id: str) -> bool:
        """Link a channel account the channel verified to the customer; False if it is someone else's."""
        return await self.uow.db(
            rows.link_identity,
            customer_external_id=customer_external_id,
            channel=channel,
            external_user_id=external_user_id,
        )

    async def claim_link_token(self, *, token: str, keep: timedelta) -> bool:
        """A deep-link token's one use: True the first time, False ever after (until pruned past `keep`)."""
        return await self.uow.db(links.claim_link, token=token, now=self._clock(), keep=keep)

    async def tell_customer_elsewhere(
        self, *, customer_external_id: str, channel: str, external_user_id: str, text: str
    ) -> bool:
        """Say `text` in the customer's latest conversation on another account; False if they have none."""
        conversation_id = await self.uow.db(
            links.notice_conversation,
            customer_external_id=customer_external_id,
            channel=channel,
            external_user_id=external_user_id,
        )
        conversation = (
            await self.uow.db(rows.get_conversation, conversation_id=conversation_id)
            if conversation_id
            else None
        )
        if conversation is None or conversation.channel not in self.outbox.channels:
            return False
        await self.outbox.say(conversation, text, {"kind": "new_link"})
        return True

    async def customer_exists(self, *, external_id: str) -> bool:
        return await self.uow.db(rows.customer_pk, external_id=external_id) is not None

    async def transcript(self, *, conversation_id: str) -> list[transcripts.TranscriptEntry]:
        return await self.uow.read(
            transcripts.transcript, conversation_id=conversation_id, limit=self._history_limit
        )

    async def database_ready(self) -> bool:
        return await self.uow.read(rows.database_ready)

    # -- staff: take over, reply, hand back (each raises states.TransitionRefused) -------

    async def assign(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> states.Assignment:
        return await self.staff.assign(
            conversation_id=conversation_id, staff_id=staff_id, may_take_over=may_take_over
        )

    async def staff_reply(
        self, *, conversation_id: str, staff_id: int, staff_name: str, text: str
    ) -> OutboundMessage:
        return await self.staff.reply(
            conversation_id=conversation_id, staff_id=staff_id, staff_name=staff_name, text=text
        )

    async def resolve(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> states.Resolution:
        return await self.handback.resolve(
            conversation_id=conversation_id, staff_id=staff_id, may_take_over=may_take_over
        )

    async def notify(self, *, conversation_id: str, text: str, data: dict[str, Any]) -> bool:
        """A message from the shop (a request settled, an order notice), stored and sent on the customer's channel.

        False when the conversation is gone (erased); DeliveryFailed when stored but not sent.
        """
        conversation = await self.uow.db(rows.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            return False
        try:
            await self.outbox.say(conversation, text, data)
        except DeliveryFailed:
            raise
        except Exception as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
        return True

    # -- messages ------------------------------------------------------------------------

    def submit(self, inbound: InboundMessage, *, on_stored: OnStored | None = None) -> asyncio.Task[Outcome]:
        """Start handling `inbound` in the background; its place in line is taken now.

        The task belongs to the service, not the caller: a customer who closes the
        tab still gets the reply stored for their return.
        """
        return self.inbound.submit(inbound, on_stored=on_stored)

    async def handle(self, inbound: InboundMessage, *, on_stored: OnStored | None = None) -> Outcome:
        return await self.submit(inbound, on_stored=on_stored)

    async def aclose(self, *, timeout: float) -> None:
        """Let messages in progress finish (replies get stored), then stop.

        A turn cut off here stays open in the database; the recovery pass of
        the next gateway to start finishes it or apologises.
        """
        await self.turns.aclose()
        try:
            await self._background.drain(timeout=timeout)
            await asyncio.wait_for(self.deliveries.settled(), timeout=timeout)
        except asyncio.TimeoutError:
            logger.warning("delivery marks still being written at shutdown; their replies may be sent again")
        finally:
            self.uow.close()
