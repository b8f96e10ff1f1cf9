"""The intake service: what every channel adapter calls, the same way, to bring a message in.

- `in_line(channel, address)`: one arrival per sender at a time, in arrival order
  (two quick messages from a new sender must not start two conversations);
- `open(...)`: find the sender's conversation, bind a customer the channel
  verified, or start a new one when the thread belongs to someone else;
- `session(...)`: the widget's rule: a browser session token's conversation,
  or a new session and conversation when the token is unknown, idle or held by
  another identity;
- `submit(inbound)`: hand a message to the conversation service and wait until
  it is stored (or known to be a duplicate);
- `record(...)`: store a message the gateway answers itself (a keyword, a
  Telegram /start, a sticker) with its answer, claimed once in the database;
- `claim(...)`: a once-only database claim for an update with no conversation;
- the SMS lookups and consent (`texting_number`, `may_text`, `options`, `keyword`).

Adapters hold an `Intake`; only this package touches the database and the CRM for them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import identity, sms_store
from bot.persistence import claims, rows
from bot.core.messages import Button, ConversationRef, InboundMessage
from bot.intake import records
from bot.intake.keywords import Keyword
from bot.links import NEW_LINK_NOTICE
from bot.locks import KeyedFifo
from crm.clock import utcnow
from crm.normalize import normalize_phone

if TYPE_CHECKING:
    from bot.conversations import ConversationService, Receipt
    from bot.core.outcomes import OnStored
    from bot.persistence.transcript import TranscriptEntry

logger = logging.getLogger(__name__)

T = TypeVar("T")
# What intake calls raise when the database cannot take a message in: the channel says
# "try again" in its own way (TwiML, a 503 for Telegram to redeliver).
Unavailable = SQLAlchemyError
# How long a claim for an update without a conversation is kept: far past any redelivery.
# The claims share deep-link tokens' table (`bot.links`) and prune it on the way, so this
# must not be shorter than a link claim must live (TELEGRAM_LINK_TTL_SECONDS, at most a
# day, plus a day).
_CLAIM_KEEP = timedelta(days=2)


class Intake:
    def __init__(
        self,
        *,
        service: ConversationService,
        sessionmaker: sessionmaker[Session],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.service = service
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._line = KeyedFifo()

    # -- order -------------------------------------------------------------------------

    @asynccontextmanager
    async def in_line(self, channel: str, address: str) -> AsyncIterator[None]:
        """Hold the sender's turn. The place in line is taken before the first await."""
        turn = self._line.enter(f"{channel}:{address}")
        try:
            await turn.wait()
            yield
        finally:
            turn.release()

    # -- conversations -----------------------------------------------------------------

    async def open(
        self, *, channel: str, address: str, customer: str | None, locale: str, sticky: bool
    ) -> ConversationRef:
        """The sender's conversation, verified as `customer` (None: the channel vouches for nobody).

        `sticky`: a sender the channel cannot vouch for right now keeps a verified
        conversation (Telegram: the chat is the account's). Otherwise (SMS: the number
        may have changed hands) only one verified in that very conversation does.
        """
        conversation = await self.service.find_conversation(channel=channel, address=address)
        if conversation is not None:
            if conversation.customer_external_id == customer:
                return conversation
            if customer is None and (sticky or await self._verified_in_chat(conversation)):
                # Verified in this very conversation: the next message (after a restart too)
                # carries on, rather than asking the same person to prove it again.
                return conversation
            if conversation.customer_external_id is None and customer is not None:
                try:
                    bound = await self.service.bind_customer(conversation.id, customer)
                except LookupError:
                    # The customer was erased a moment ago: stay anonymous.
                    return conversation
                except rows.CustomerConflict:
                    bound = None
                if bound is not None:
                    logger.info("sender verified", extra={"channel": channel, "conversation_id": bound.id})
                    return bound
            # The address belongs to someone else now (or to nobody): the old
            # thread, and what the bot told it, stays with its customer.
            logger.info(
                "sender's customer changed; starting a new conversation",
                extra={"channel": channel, "previous_conversation": conversation.id},
            )
        try:
            started = await self.service.start_conversation(
                channel=channel, address=address, customer_external_id=customer, locale=locale
            )
        except LookupError:
            # The customer was erased a moment ago.
            started = await self.service.start_conversation(
                channel=channel, address=address, customer_external_id=None, locale=locale
            )
        logger.info(
            "conversation started",
            extra={
                "channel": channel,
                "conversation_id": started.id,
                "verified": started.customer_external_id is not None,
            },
        )
        return started

    async def _verified_in_chat(self, conversation: ConversationRef) -> bool:
        if conversation.customer_external_id is None:
            return False
        return await self._db(
            sms_store.verified_in_chat,
            conversation_id=conversation.id,
            customer_external_id=conversation.customer_external_id,
        )

    # -- the widget's browser sessions ----------------------------------------------------

    async def session(
        self,
        *,
        channel: str,
        token: str | None,
        customer: str | None,
        expired_claim: str | None,
        locale: str,
        idle_after: timedelta,
    ) -> tuple[ConversationRef, str | None]:
        """The conversation of a browser's session `token`, verified as `customer` (None: anonymous),
        and a new session token when a new session (and conversation) starts, else None.

        The address is the token's hash. A session carries on only for the same customer,
        except that a signature which expired (`expired_claim`: the customer it named) keeps
        that customer's own conversation. Sign-in, sign-out or another person on a shared
        computer start a new session: the old conversation stays with whoever had it.
        """
        resumed = await self._resume(channel, token, customer, expired_claim, idle_after)
        if resumed is not None:
            return resumed, None
        token = identity.new_session_token()
        started = await self.service.start_conversation(
            channel=channel,
            address=identity.hash_session_token(token),
            customer_external_id=customer,
            locale=locale,
        )
        return started, token

    async def _resume(
        self,
        channel: str,
        token: str | None,
        customer: str | None,
        expired_claim: str | None,
        idle_after: timedelta,
    ) -> ConversationRef | None:
        if token is None or not identity.session_token_well_formed(token):
            return None
        conversation = await self.service.find_conversation(
            channel=channel, address=identity.hash_session_token(token), idle_after=idle_after
        )
        if conversation is None:
            return None
        if expired_claim and conversation.customer_external_id == expired_claim:
            # A tab open past its page's signature: the session token (256 bits, idle-limited)
            # already vouches for this customer's conversation, so it carries on.
            return conversation
        if conversation.customer_external_id != customer:
            logger.info(
                "widget identity differs from the session's; starting a new conversation",
                extra={"previous_conversation": conversation.id},
            )
            return None
        return conversation

    async def customer_exists(self, external_id: str) -> bool:
        """Whether a customer id a channel was given (signed, say) is a CRM customer."""
        return await self.service.customer_exists(external_id=external_id)

    async def history(self, conversation: ConversationRef) -> list[TranscriptEntry]:
        """What a returning visitor sees again: the conversation's transcript."""
        return await self.service.transcript(conversation_id=conversation.id)

    # -- messages ------------------------------------------------------------------------

    def submit(self, inbound: InboundMessage, *, then: OnStored | None = None) -> asyncio.Future[Receipt | None]:
        """Hand `inbound` over (its place in line is taken now); the future is its receipt,
        or None when handling ended without storing it (the service logged why).

        `then` runs with the receipt before the message's turn starts, so what it sends
        (the widget's `ack` and the customer's words to other tabs) goes out before any reply.
        """
        stored: asyncio.Future[Receipt | None] = asyncio.get_running_loop().create_future()

        async def on_stored(receipt: Receipt) -> None:
            if then is not None:
                await then(receipt)
            if not stored.done():
                stored.set_result(receipt)

        def finished(_: asyncio.Task[Any]) -> None:
            if not stored.done():
                stored.set_result(None)

        self.service.submit(inbound, on_stored=on_stored).add_done_callback(finished)
        return stored

    async def record(
        self,
        inbound: InboundMessage,
        *,
        reply: str | None,
        data: dict[str, Any],
        event: dict[str, Any] | None = None,
    ) -> records.Answered:
        """Store a message the gateway answers itself, and its answer; a duplicate stores nothing."""
        return await self._db(records.record_answered, inbound=inbound, reply=reply, data=data, event=event)

    async def note(self, conversation: ConversationRef, text: str, data: dict[str, Any]) -> None:
        """Store words the channel says itself (and sends with its own markup) in the transcript."""
        await self._db(
            records.add_note,
            conversation_id=conversation.id,
            channel=conversation.channel,
            text=text,
            data=data,
        )

    async def announce_link(
        self, *, customer_external_id: str, channel: str, external_user_id: str, label: str
    ) -> bool:
        """Tell the customer, where they already talk to us, that a new `label` account was linked to them."""
        return await self.service.tell_customer_elsewhere(
            customer_external_id=customer_external_id,
            channel=channel,
            external_user_id=external_user_id,
            text=NEW_LINK_NOTICE.format(channel=label),
        )

    async def claim(self, key: str) -> bool:
        """True the first time `key` is claimed, on any gateway; False for a redelivery."""
        return await self._db(records.claim_once, key=key, now=self._clock(), keep=_CLAIM_KEEP)

    # -- SMS -------------------------------------------------------------------------------

    @staticmethod
    def phone(raw: str | None) -> str | None:
        """`raw` as an E.164 number, or None when it is not one."""
        return normalize_phone(raw)

    async def texting_number(self, number: str) -> sms_store.TextingNumber:
        return await self._db(sms_store.texting_number, number=number)

    async def may_text(self, number: str) -> bool:
        return await self._db(sms_store.may_text, number=number)

    async def options(self, conversation_id: str) -> tuple[Button, ...]:
        return await self._db(sms_store.latest_options, conversation_id=conversation_id)

    async def keyword(
        self, inbound: InboundMessage, *, number: str, keyword: Keyword, reply: str | None
    ) -> sms_store.KeywordReceipt:
        return await self._db(
            sms_store.record_keyword, inbound=inbound, number=number, keyword=keyword, reply=reply
        )

    # -- plumbing --------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """One unit of work in a worker thread, with a session of its own. Not `sessionmaker.begin()`:
        `claims.claim_inbound` rolls back itself when it meets a duplicate."""
        return await asyncio.to_thread(self._unit_of_work, functools.partial(fn, **kwargs))

    def _unit_of_work(self, fn: Callable[[Session], T]) -> T:
        with self._sessionmaker() as session:
            try:
                result = fn(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result
