"""The conversation service: the one path every inbound message takes, whatever its channel.

For each message: claim it (the unique channel message id makes a redelivery a
no-op), store it, then - one message per conversation at a time, in arrival
order - either ask Rasa and pass the replies on, or, while staff hold the
conversation, keep it for them. Whatever Rasa does, the customer hears
something true. This module never imports a channel; channels register here.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import handoff, links, replies, store, turns
from bot.channels.base import Button, Channel, ConversationRef, InboundMessage, OutboundMessage
from bot.locks import KeyedFifo, LocalTurnGuard, Turn, TurnGuard, TurnUnavailable
from bot.logs import conversation_context
from bot.metrics import Metrics
from bot.rasa import BotReply, RasaClient, RasaFailure, RasaMetadata
from bot.redelivery import DeliveryFailed, DeliveryLedger
from bot.recovery import TurnKeeper, TurnPolicy, UnsavedReplies, failure_kind, turn_message
from crm.clock import utcnow
from crm.models import ConversationState, Delivery, Sender
from crm.services import review
from crm.services.verification_limits import client_fingerprint
from crm.shop import ShopProfile, ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Leading slashes are how Rasa's REST input spells an intent ("/greet"); Rasa
# strips whitespace first, so " /greet" is one too.
_INTENT_PREFIX = re.compile(r"^[\s/]+")


# What Rasa is told when staff hand a conversation back (domain/base.yml).
RESUME_INTENT = "handoff_resolved"
# Fan-out keys the staff console listens on.
STAFF_QUEUE_KEY = "staff:queue"


def staff_conversation_key(conversation_id: str) -> str:
    return f"staff:conversation:{conversation_id}"


class _Publisher(Protocol):
    async def publish(self, key: str, frame: dict[str, Any]) -> None: ...


def _shop_profile() -> ShopProfile | None:
    try:
        return load_shop_profile()
    except ShopProfileError as exc:
        # Without hours the queue notice promises nothing about them.
        logger.warning("shop profile unreadable; handoff notices without opening hours: %s", exc)
        return None


def neutralise(text: str) -> str:
    """Free text as Rasa should read it: never as an intent the customer typed."""
    return _INTENT_PREFIX.sub("", text)


class Outcome(str, enum.Enum):
    duplicate = "duplicate"  # already stored: nothing done
    unstored = "unstored"  # the database refused it: the channel must say so
    rejected = "rejected"  # stored, not for the assistant (a stale button)
    answered = "answered"  # the assistant (or the gateway for it) replied
    failed = "failed"  # the assistant failed; the customer got the apology
    held = "held"  # staff hold the conversation; kept for them


@dataclass(frozen=True)
class Receipt:
    """What the channel learns once the message is safely stored (or known already)."""

    conversation_id: str
    channel_message_id: str
    duplicate: bool
    # The database could not take it: nothing was stored, the customer must resend.
    unavailable: bool = False
    message_id: int | None = None
    text: str = ""
    created_at: datetime | None = None
    rejection: str | None = None


OnStored = Callable[[Receipt], Awaitable[None]]


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
        events: _Publisher | None = None,
        alerts: handoff.StaffAlerts | None = None,
        shop_profile: Callable[[], ShopProfile | None] = _shop_profile,
        clock: Callable[[], datetime] = utcnow,
        default_wait: timedelta = handoff.DEFAULT_WAIT,
        console_url: str | None = None,
        review_threshold: float = 0.5,
        reads: sessionmaker[Session] | None = None,
        turn_policy: TurnPolicy | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # Health checks and history reads: their own connections and threads, so
        # they never queue behind writes stuck on a locked database.
        self._reads = reads or sessionmaker
        self._read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="db-read")
        self._rasa = rasa
        self._metrics = metrics
        self._guard: TurnGuard = guard or LocalTurnGuard()
        self._contact = contact
        self._history_limit = history_limit
        self._channels: dict[str, Channel] = {}
        # Two lines per conversation: a short one for storing (so the transcript
        # keeps arrival order) and the long one for Rasa turns.
        self._storing = KeyedFifo()
        self._turns = KeyedFifo()
        # A third, short line around "store replies, then deliver them", shared with
        # staff assignments: a bot reply stored before an assignment is also
        # delivered before the "… has joined" notice, and none after it.
        self._outbox = KeyedFifo()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events = events
        self._alerts = alerts
        self._shop_profile = shop_profile
        self._clock = clock
        self._default_wait = default_wait
        self._console_url = console_url.rstrip("/") if console_url else None
        self._review_threshold = review_threshold
        # Conversations staff just resolved whose resume turn is still ahead.
        self._resuming: set[str] = set()
        self.turns = TurnKeeper(self, metrics=metrics, contact=contact, policy=turn_policy or TurnPolicy())
        # Replies stored but not yet sent: marked when sent, owed after a crash (bot/redelivery.py).
        self.deliveries = DeliveryLedger(
            self._db, grace=self.turns.policy.delivery_grace, max_age=self.turns.policy.resume_max_age
        )

    def register_channel(self, channel: Channel) -> None:
        self._channels[channel.name] = channel

    def channel_names(self) -> set[str]:
        return set(self._channels)

    # -- conversations ---------------------------------------------------------

    async def find_conversation(
        self, *, channel: str, address: str, idle_after: timedelta | None = None
    ) -> ConversationRef | None:
        """The newest conversation at `address`; with `idle_after`, only one active since then."""
        active_since = self._clock() - idle_after if idle_after is not None else None
        # A read: a returning customer gets their history while writes wait on a lock.
        return await self._read(store.find_conversation, channel=channel, address=address, active_since=active_since)

    async def start_conversation(
        self, *, channel: str, address: str, customer_external_id: str | None, locale: str
    ) -> ConversationRef:
        """A new conversation. Raises LookupError for an unknown customer id."""
        return await self._db(
            store.create_conversation,
            channel=channel,
            address=address,
            customer_external_id=customer_external_id,
            locale=locale,
        )

    async def bind_customer(self, conversation_id: str, customer_external_id: str) -> ConversationRef | None:
        """Attach a customer the channel verified; Rasa is told from the next message on.

        None for an unknown conversation; LookupError for an unknown customer;
        store.CustomerConflict when the conversation already belongs to someone
        else (start a new conversation for this customer instead).
        """
        return await self._db(
            store.bind_customer, conversation_id=conversation_id, customer_external_id=customer_external_id
        )

    async def customer_for_identity(self, *, channel: str, external_user_id: str) -> str | None:
        """Who linked this channel account (e.g. a Telegram user id) to their CRM record, if anyone."""
        return await self._db(store.customer_by_identity, channel=channel, external_user_id=external_user_id)

    async def customer_for_phone(self, *, phone: str) -> str | None:
        """The customer whose CRM phone is this E.164 number; None if unknown or shared."""
        return await self._db(store.customer_by_phone, phone=phone)

    async def link_identity(self, *, customer_external_id: str, channel: str, external_user_id: str) -> bool:
        """Link a channel account the channel verified to the customer; False if it is someone else's."""
        return await self._db(
            store.link_identity,
            customer_external_id=customer_external_id,
            channel=channel,
            external_user_id=external_user_id,
        )

    async def claim_link_token(self, *, token: str, keep: timedelta) -> bool:
        """A deep-link token's one use: True the first time, False ever after (until pruned past `keep`)."""
        return await self._db(links.claim_link, token=token, now=self._clock(), keep=keep)

    async def tell_customer_elsewhere(
        self, *, customer_external_id: str, channel: str, external_user_id: str, text: str
    ) -> bool:
        """Say `text` in the customer's latest conversation on another account; False if they have none."""
        conversation_id = await self._db(
            links.notice_conversation,
            customer_external_id=customer_external_id,
            channel=channel,
            external_user_id=external_user_id,
        )
        conversation = (
            await self._db(store.get_conversation, conversation_id=conversation_id) if conversation_id else None
        )
        if conversation is None or conversation.channel not in self._channels:
            return False
        await self._say(conversation, text, {"kind": "new_link"})
        return True

    async def customer_exists(self, *, external_id: str) -> bool:
        return await self._db(store.customer_pk, external_id=external_id) is not None

    async def transcript(self, *, conversation_id: str) -> list[store.TranscriptEntry]:
        return await self._read(store.transcript, conversation_id=conversation_id, limit=self._history_limit)

    async def database_ready(self) -> bool:
        return await self._read(store.database_ready)

    # -- staff: take over, reply, hand back --------------------------------------------
    # Each raises store.TransitionRefused when the conversation's state does not
    # allow it; the console turns the reason into a sentence.

    async def assign(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> store.Assignment:
        """Give the conversation to a staff member, from the queue or straight from the bot.

        From this moment the bot is silent: a reply Rasa is still working on is
        stored as suppressed and never delivered (see store.save_bot_replies).
        """
        undelivered: Exception | None = None
        outbox = self._outbox.enter(conversation_id)
        try:
            await outbox.wait()
            assignment = await self._db(
                store.assign_conversation,
                conversation_id=conversation_id,
                staff_id=staff_id,
                may_take_over=may_take_over,
            )
            if assignment.notice is not None:
                try:
                    await self._deliver(assignment.conversation, assignment.notice)
                except Exception as exc:
                    # The assignment stands (the notice is in the transcript); the caller hears below.
                    undelivered = exc
        finally:
            outbox.release()
        if assignment.notice is not None:
            with conversation_context(conversation_id):
                logger.info(
                    "conversation assigned",
                    extra={"staff_user_id": staff_id, "from_state": assignment.previous_state.value},
                )
            await self._publish_state(conversation_id)
            await self._publish(STAFF_QUEUE_KEY, {"type": "queue", "event": "assigned"})
        if undelivered is not None:
            raise DeliveryFailed(type(undelivered).__name__) from undelivered
        return assignment

    async def staff_reply(
        self, *, conversation_id: str, staff_id: int, staff_name: str, text: str
    ) -> OutboundMessage:
        """Store a reply from the assigned staff member and send it on the customer's channel.

        DeliveryFailed: stored (it is in the transcript) but the channel could not take it now.
        """
        conversation, outbound = await self._db(
            store.add_staff_reply, conversation_id=conversation_id, staff_id=staff_id, text=text
        )
        try:
            await self._deliver(conversation, outbound, staff_name=staff_name)
        except DeliveryFailed:
            raise
        except Exception as exc:
            # Whatever the channel's client raised, the console must say the reply did not go out.
            raise DeliveryFailed(type(exc).__name__) from exc
        return outbound

    async def notify(self, *, conversation_id: str, text: str, data: dict[str, Any]) -> bool:
        """A message from the shop (a request settled, an order notice), stored and sent on the customer's channel.

        False when the conversation is gone (erased); DeliveryFailed when stored but not sent.
        """
        conversation = await self._db(store.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            return False
        try:
            await self._say(conversation, text, data)
        except DeliveryFailed:
            raise
        except Exception as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
        return True

    async def resolve(self, *, conversation_id: str, staff_id: int, may_take_over: bool) -> store.Resolution:
        """Close the handoff and give the conversation back to the bot, which asks for a rating.

        Returns once the handoff is closed; the bot's turn (Rasa's trigger_intent)
        runs in the background, in the conversation's turn line.
        """
        marked = conversation_id not in self._resuming
        self._resuming.add(conversation_id)
        try:
            resolution = await self._db(
                store.resolve_conversation,
                conversation_id=conversation_id,
                staff_id=staff_id,
                may_take_over=may_take_over,
            )
        except BaseException:
            if marked:
                self._resuming.discard(conversation_id)
            raise
        turn = self._turns.enter(conversation_id)
        self._spawn(self._resume(resolution, turn))
        with conversation_context(conversation_id):
            logger.info("conversation resolved by staff", extra={"staff_user_id": staff_id})
        await self._publish_state(conversation_id)
        await self._publish(STAFF_QUEUE_KEY, {"type": "queue", "event": "resolved"})
        return resolution

    async def _resume(self, resolution: store.Resolution, turn: Turn) -> Outcome:
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
                    await self._db(store.finish_resume, conversation_id=conversation_id)
                finally:
                    self._resuming.discard(conversation_id)
                    turn.release()
                await self._publish_state(conversation_id)

    async def _resume_turn(self, resolution: store.Resolution) -> Outcome:
        conversation = await self._db(store.get_conversation, conversation_id=resolution.conversation.id)
        if conversation is None:
            raise LookupError("conversation vanished while being handed back")
        channel = self._channels[conversation.channel]
        saved: store.SavedReplies | None = None
        await channel.typing(conversation, True)
        try:
            answer = await self._trigger_resume(conversation.id, resolution.staff_id)
            if not isinstance(answer, RasaFailure):
                saved = await self._save_and_deliver(
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
            await self._say(conversation, handoff.RESUMED, {"kind": "resumed"})
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

    # -- messages --------------------------------------------------------------

    def submit(self, inbound: InboundMessage, *, on_stored: OnStored | None = None) -> asyncio.Task[Outcome]:
        """Start handling `inbound` in the background; its place in line is taken now.

        The task belongs to the service, not the caller: a customer who closes the
        tab still gets the reply stored for their return.
        """
        if inbound.channel not in self._channels:
            raise ValueError(f"no channel registered as {inbound.channel!r}")
        storing = self._storing.enter(inbound.conversation_id)
        task = asyncio.create_task(self._handle(inbound, storing, on_stored))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def handle(self, inbound: InboundMessage, *, on_stored: OnStored | None = None) -> Outcome:
        return await self.submit(inbound, on_stored=on_stored)

    async def aclose(self, *, timeout: float) -> None:
        """Let messages in progress finish (replies get stored), then stop.

        A turn cut off here stays open in the database; the recovery pass of
        the next gateway to start finishes it or apologises.
        """
        await self.turns.aclose()
        try:
            if not self._tasks:
                return
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            self._read_pool.shutdown(wait=False, cancel_futures=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("message handling failed", exc_info=task.exception())

    async def _handle(self, inbound: InboundMessage, storing: Turn, on_stored: OnStored | None) -> Outcome:
        with conversation_context(inbound.conversation_id):
            try:
                await storing.wait()
                claim = await self._db(store.claim_inbound, inbound=inbound)
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
                    await on_stored(self._receipt(inbound, None))
                return Outcome.duplicate
            self._metrics.messages.labels(inbound.channel, "in").inc()
            if claim.notice_order is not None:
                self._metrics.notices.labels("replied", "", inbound.channel).inc()
            await self._publish(
                staff_conversation_key(inbound.conversation_id),
                {
                    "type": "message",
                    "id": str(claim.message_id),
                    "from": Sender.customer.value,
                    "text": claim.text,
                    "buttons": [],
                    "ts": claim.created_at.isoformat(),
                },
            )
            try:
                if on_stored is not None:
                    # A resent id taken up again is acknowledged as the duplicate it is, then answered.
                    await on_stored(self._receipt(inbound, None if resent else claim))
                if turn is None:
                    self._metrics.rejected.labels(inbound.channel, claim.rejection or "").inc()
                    logger.info("button payload refused", extra={"reason": claim.rejection})
                    return Outcome.rejected
                self.turns.in_flight.add(claim.message_id)
                await turn.wait()
                return await self.turns.run(inbound, claim.message_id, notice_order=claim.notice_order)
            finally:
                self.turns.in_flight.discard(claim.message_id)
                if turn is not None:
                    turn.release()

    async def _resent(self, inbound: InboundMessage) -> store.Claim | None:
        """A resent id whose turn ended in an apology or was abandoned: taken up again, not dropped."""
        claim = await self._db(
            turns.reclaim,
            channel=inbound.channel,
            channel_message_id=inbound.channel_message_id,
            leased_before=utcnow() - self.turns.policy.lease,
            skip=set(self.turns.in_flight),
        )
        if claim is not None:
            logger.info("resent message taken up again", extra={"message_id": claim.message_id})
        return claim

    async def _take_turn(
        self, inbound: InboundMessage, *, message_id: int | None = None, notice_order: str | None = None
    ) -> Outcome:
        context = await self._db(store.turn_context, conversation_id=inbound.conversation_id)
        conversation = context.conversation
        self.turns.remember(conversation)
        channel = self._channels[conversation.channel]
        if inbound.payload in handoff.CHOICES:
            return await self._answer_choice(conversation, inbound.payload or "")
        if conversation.state in store.HELD_STATES:
            if context.notice_due:
                await self._say(conversation, await self._held_notice(conversation), {"kind": "held_notice"})
            await self._publish(STAFF_QUEUE_KEY, {"type": "queue", "event": "message"})
            logger.info("message kept for staff", extra={"state": conversation.state.value})
            return Outcome.held
        if conversation.state == ConversationState.resolved:
            if conversation.id in self._resuming:
                # Staff just handed back; the bot's first words (the rating question) are next in line.
                logger.info("message kept: the bot is about to resume")
                return Outcome.held
            # A resume that never finished (its gateway stopped): the bot carries on.
            await self._db(store.finish_resume, conversation_id=conversation.id)
        message = inbound.payload if inbound.payload is not None else neutralise(inbound.text)
        if not message:
            await self._say(conversation, replies.EMPTY_AFTER_NEUTRALISING, {"kind": "empty"})
            return Outcome.answered
        metadata = RasaMetadata(
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
        saved: store.SavedReplies | None = None
        await channel.typing(conversation, True)
        try:
            answer = await self._ask_rasa(conversation.id, message, metadata)
            if not isinstance(answer, RasaFailure):
                saved = await self._save_and_deliver(conversation, answer, expected=ConversationState.bot)
                if saved.handoff:
                    # Before "typing off": a client may take that as the end of the turn.
                    await self._tell_queue(conversation, bare=not saved.visible)
        finally:
            # After the replies, so a client can take "typing off" as the end of the turn.
            await channel.typing(conversation, False)
        parse = getattr(answer, "parse", None)
        if parse is not None and message_id is not None:
            # After the customer has the answer: bookkeeping never delays or loses a reply.
            await self._db(
                review.record_reading,
                message_id=message_id,
                intent=parse.intent,
                confidence=parse.confidence,
                ranking=parse.ranking,
                threshold=self._review_threshold,
            )
        if isinstance(answer, RasaFailure):
            current = await self._db(store.get_conversation, conversation_id=conversation.id)
            if current is not None and current.state in store.HELD_STATES:
                # A person took over meanwhile; they answer, not the apology.
                return Outcome.held
            return await self._fail(conversation.id, answer.kind)
        assert saved is not None
        if saved.suppressed:
            logger.info("bot reply not sent: staff took over during the turn")
            return Outcome.held
        if saved.handoff:
            signal = next(r.handoff for r in answer if r.handoff is not None)
            self._metrics.handoffs.labels(conversation.channel).inc()
            logger.info(
                "conversation handed to staff",
                extra={"reason": signal.get("reason"), "priority": signal.get("priority")},
            )
            await self._publish(
                STAFF_QUEUE_KEY, {"type": "queue", "event": "handoff", "conversation_id": conversation.id}
            )
            await self._publish_state(conversation.id)
            if self._alerts is not None:
                self._spawn(self._alert(conversation, signal))
        return Outcome.answered

    async def _save_and_deliver(
        self,
        conversation: ConversationRef,
        answer: list[BotReply],
        *,
        expected: ConversationState,
        next_state: ConversationState = ConversationState.bot,
    ) -> store.SavedReplies:
        outbox = self._outbox.enter(conversation.id)
        try:
            await outbox.wait()
            try:
                saved = await self._db(
                    store.save_bot_replies,
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
                    await self._deliver(conversation, outbound, mark=False)
                    sent.append(outbound.id)
            finally:
                await self.deliveries.mark(sent, Delivery.sent)
        finally:
            outbox.release()
        if saved.suppressed:
            await self._publish(staff_conversation_key(conversation.id), {"type": "reload"})
        return saved

    async def _tell_queue(self, conversation: ConversationRef, *, bare: bool) -> None:
        """Right after a handoff: the customer's place in the queue and the wait, or the hours.

        `bare`: the bot sent only the handoff signal, so this notice also says
        that a person will reply (and counts as the held notice).
        """
        profile = await asyncio.to_thread(self._shop_profile)
        now = self._clock()
        status = await self._db(
            handoff.queue_status, conversation_id=conversation.id, now=now, default_wait=self._default_wait
        )
        notice = handoff.queue_notice(status, profile, now)
        text, data = notice.text, dict(notice.data or {})
        if bare:
            text = f"{replies.HELD_NOTICE}\n{text}"
            data["kind"] = "held_notice"
        await self._say(conversation, text, data, buttons=notice.buttons)

    async def _held_notice(self, conversation: ConversationRef) -> str:
        if conversation.state != ConversationState.queued:
            return replies.HELD_NOTICE
        status = await self._db(
            handoff.queue_status,
            conversation_id=conversation.id,
            now=self._clock(),
            default_wait=self._default_wait,
        )
        if status.position is None or status.position <= 1:
            return replies.HELD_NOTICE + " You're next in the queue."
        return replies.HELD_NOTICE + f" You're number {status.position} in the queue."

    async def _answer_choice(self, conversation: ConversationRef, payload: str) -> Outcome:
        """The out-of-hours choice (call back, or reply here): the gateway's to answer, not Rasa's."""
        profile = await asyncio.to_thread(self._shop_profile)
        now = self._clock()
        back = profile.when_back(now) if profile is not None else None
        phone = None
        if payload == handoff.CALLBACK:
            phone = await self._db(store.customer_phone, conversation_id=conversation.id)
        choice = "callback" if payload == handoff.CALLBACK else "reply_here"
        text = handoff.choice_reply(payload, phone_on_file=phone, back=back)
        await self._say(conversation, text, {"kind": "handoff_choice", "choice": choice})
        await self._publish(STAFF_QUEUE_KEY, {"type": "queue", "event": "choice"})
        logger.info("handoff choice recorded", extra={"choice": choice})
        return Outcome.answered

    async def _alert(self, conversation: ConversationRef, signal: dict[str, Any]) -> None:
        assert self._alerts is not None
        waiting = len(await self._db(handoff.queue))
        await self._alerts.new_handoff(
            handoff.HandoffAlert(
                conversation_id=conversation.id,
                channel=conversation.channel,
                reason=str(signal.get("reason") or "request_human"),
                priority=int(signal.get("priority") or 0),
                verified=bool(signal.get("verified")),
                waiting=waiting,
                console_url=(
                    f"{self._console_url}/staff/conversations/{conversation.id}"
                    if self._console_url
                    else None
                ),
            )
        )

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    async def _ask_rasa(
        self, sender: str, message: str, metadata: RasaMetadata
    ) -> list[BotReply] | RasaFailure:
        started = time.perf_counter()
        try:
            tag = turn_message.get()
            bot_replies = await self._rasa.send(
                sender=sender, message=message, metadata=metadata, message_id=None if tag is None else str(tag)
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

    async def _fail(self, conversation_id: str, kind: str) -> Outcome:
        """The apology: true (we could not answer), and how to reach a person."""
        self._metrics.failures.labels(kind).inc()
        failure_kind.set(kind)
        conversation = await self._db(store.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            raise LookupError("conversation vanished during its turn")
        contact = await asyncio.to_thread(self._contact)
        await self._say(conversation, replies.apology(contact), {"kind": "apology", "failure": kind})
        return Outcome.failed

    async def _say(
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
        outbound = await self._db(
            store.add_outbound,
            conversation_id=conversation.id,
            channel=conversation.channel,
            sender=Sender.system,
            text=text,
            data=data,
            pending=True,
        )
        await self._deliver(conversation, outbound)

    async def _deliver(
        self,
        conversation: ConversationRef,
        outbound: OutboundMessage,
        *,
        staff_name: str | None = None,
        mark: bool = True,
    ) -> None:
        """Send one stored message; `mark`: record it sent (or refused) in the ledger now."""
        await self._publish(staff_conversation_key(conversation.id), staff_frame(outbound, staff_name))
        channel = self._channels.get(conversation.channel)
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

    async def _publish(self, key: str, frame: dict[str, Any]) -> None:
        if self._events is not None:
            await self._events.publish(key, frame)

    async def _publish_state(self, conversation_id: str) -> None:
        conversation = await self._db(store.get_conversation, conversation_id=conversation_id)
        if conversation is None:
            return
        holder = await self._db(store.assignee, conversation_id=conversation_id)
        await self._publish(
            staff_conversation_key(conversation_id),
            {"type": "state", "state": conversation.state.value, "assignee": holder},
        )

    @staticmethod
    def _receipt(inbound: InboundMessage, claim: store.Claim | None) -> Receipt:
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

    async def _db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """One unit of work in a worker thread, with a session of its own."""
        return await asyncio.to_thread(self._unit_of_work, fn, kwargs)

    async def _read(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """A read on the read connections and threads (never behind a write waiting for a lock)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._read_pool, functools.partial(self._unit_of_work, fn, kwargs, self._reads)
        )

    def _unit_of_work(
        self, fn: Callable[..., T], kwargs: dict[str, Any], factory: sessionmaker[Session] | None = None
    ) -> T:
        with (factory or self._sessionmaker)() as session:
            try:
                result = fn(session, **kwargs)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result


def staff_frame(outbound: OutboundMessage, staff_name: str | None = None) -> dict[str, Any]:
    """A transcript line as the staff console shows it live."""
    frame: dict[str, Any] = {"type": "message", **outbound.as_json()}
    if staff_name:
        frame["staff_name"] = staff_name
    return frame
