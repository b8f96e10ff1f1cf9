"""The Telegram channel's adapter: Bot API updates in, Bot API calls out (see the package doc)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from telegram import Bot, Message, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError

from bot import replies
from bot.core.messages import Button, ConversationRef, InboundMessage, OutboundMessage
from bot.channels.telegram import api, wire
from bot.channels.telegram.events import Events
from bot.channels.telegram.links import DeepLink, make_deep_link
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.texts import CHOOSE, EDITED, GROUP_CHAT, NON_TEXT
from bot.intake.delivery import not_delivered
from bot.intake.door import Intake, Unavailable

if TYPE_CHECKING:
    from bot.conversations import Receipt
    from bot.metrics import Metrics

logger = logging.getLogger("bot.channels.telegram")

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhooks/telegram"
_CALLBACK = re.compile(r"^b:(\d{1,18}):(\d{1,3})$")
# Telegram shows "typing…" for about five seconds; renew it until the turn ends.
_TYPING_EVERY_SECONDS = 4.0
_TYPING_AT_MOST_SECONDS = 60.0

class Limiter(Protocol):
    def allow(self, key: str) -> bool: ...


class TelegramChannel:
    name = CHANNEL

    def __init__(
        self,
        *,
        bot: Bot,
        intake: Intake,
        metrics: Metrics,
        webhook_secret: str,
        link_secret: str,
        link_ttl_seconds: int,
        bot_username: str,
        max_message_chars: int,
        chat_limiter: Limiter,
        drain_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.bot = bot
        self.intake = intake
        self.metrics = metrics
        self._webhook_secret = webhook_secret
        self._link_secret = link_secret
        self._link_ttl = timedelta(seconds=link_ttl_seconds)
        self._username = bot_username
        self._max_chars = max_message_chars
        self._limiter = chat_limiter
        self._drain_seconds = drain_seconds
        self._typing: dict[str, asyncio.Task[None]] = {}
        self._poller: Poller | None = None
        self.events = Events(self, link_secret=link_secret, link_ttl=self._link_ttl, clock=clock)
        self._clock = clock

    # -- outbound (the Channel protocol) -------------------------------------------------

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        """Send a stored message; NotDelivered (`bot.intake.delivery`) when Telegram refuses a staff reply."""
        chat_id = int(conversation.address)
        markup = wire.inline_keyboard(outbound.id, outbound.buttons) if outbound.buttons else None
        pieces = wire.split_text(outbound.text)
        if outbound.image:
            _, failure = await api.call(
                self.bot.send_photo,
                chat_id=chat_id,
                photo=outbound.image,
                reply_markup=markup if not pieces else None,
            )
            if failure is not None:
                # Telegram could not fetch the image; the link still helps.
                pieces.append(outbound.image)
        if not pieces and markup is not None and not outbound.image:
            pieces = [CHOOSE]
        failed = None
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            _, failure = await api.call(
                self.bot.send_message, chat_id=chat_id, text=piece, reply_markup=markup if last else None
            )
            failed = failed or failure
        if failed is not None:
            not_delivered(outbound, failed)

    async def typing(self, conversation: ConversationRef, on: bool) -> None:
        running = self._typing.pop(conversation.id, None)
        if running is not None:
            running.cancel()
        if on:
            self._typing[conversation.id] = asyncio.create_task(self._keep_typing(int(conversation.address)))

    async def _keep_typing(self, chat_id: int) -> None:
        deadline = time.monotonic() + _TYPING_AT_MOST_SECONDS
        while time.monotonic() < deadline:
            try:
                await self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
            except TelegramError as exc:
                # Only cosmetic: the reply itself is what matters.
                logger.debug("typing indicator not sent: %s", type(exc).__name__)
                return
            await asyncio.sleep(_TYPING_EVERY_SECONDS)

    async def say(self, chat_id: int, text: str, markup: Any = None) -> None:
        """Send the channel's own words (stored by the caller when they answer a customer); never raises."""
        await api.call(self.bot.send_message, chat_id=chat_id, text=text, reply_markup=markup)

    # -- inbound -----------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        return self._poller is not None

    def secret_ok(self, header: str | None) -> bool:
        """Constant-time check of Telegram's secret-token header; no configured secret: never ok."""
        if not self._webhook_secret or not header:
            return False
        return hmac.compare_digest(header.encode(), self._webhook_secret.encode())

    def parse(self, data: Any) -> Update | None:
        """An update from a webhook body; None for anything that is not one."""
        return wire.parse(data, self.bot)

    async def process(self, update: Update) -> bool:
        """Take one update in. False only when a customer message could not be stored
        (Telegram should deliver it again); everything else is True."""
        try:
            return await self._process(update)
        except Unavailable as exc:
            self.metrics.failures.labels("database").inc()
            logger.error("could not take a Telegram update in: %s", type(exc).__name__)
            return False

    async def _process(self, update: Update) -> bool:
        if update.callback_query is not None:
            return await self._on_button(update)
        if update.edited_message is not None:
            if update.edited_message.chat.type == ChatType.PRIVATE:
                await self.events.answer(update, update.edited_message, "edited", EDITED)
            return True
        message = update.message
        if message is None or message.from_user is None:
            return True  # not a customer speaking (allowed_updates keeps these rare)
        if message.chat.type != ChatType.PRIVATE:
            # Only a command gets an answer: a staff group the bot sits in stays quiet.
            if (message.text or "").startswith("/"):
                await self._once(update, message.chat_id, GROUP_CHAT)
            return True
        if message.contact is not None:
            await self.events.contact(update, message)
            return True
        if message.text is None:
            self.metrics.rejected.labels(CHANNEL, "not_text").inc()
            await self.events.answer(update, message, "not_text", NON_TEXT)
            return True
        command, _, argument = message.text.partition(" ")
        if command in ("/start", f"/start@{self._username}"):
            await self.events.start(update, message, argument.strip())
            return True
        return await self._on_text(update, message)

    async def _on_text(self, update: Update, message: Message) -> bool:
        assert message.text is not None and message.from_user is not None
        chat_id = message.chat_id
        if not self._limiter.allow(str(chat_id)):
            self.metrics.rate_limited.labels("session").inc()
            await self._once(update, chat_id, replies.RATE_LIMITED)
            return True
        if len(message.text) > self._max_chars:
            self.metrics.rejected.labels(CHANNEL, "too_long").inc()
            await self._once(
                update, chat_id, replies.TOO_LONG.format(length=len(message.text), limit=self._max_chars)
            )
            return True
        if not message.text.strip():
            return True
        # The update id makes a redelivery a duplicate; chat and message id keep
        # a new update from colliding with an old one if Telegram's counter restarts.
        receipt = await self._submit(
            chat_id, message.from_user, message_id(update, chat_id, message), text=message.text
        )
        return not receipt.unavailable

    async def _on_button(self, update: Update) -> bool:
        query = update.callback_query
        assert query is not None
        chat = query.message.chat if query.message is not None else None
        chat_id = chat.id if chat is not None else query.from_user.id
        if chat is not None and chat.type != ChatType.PRIVATE:
            await self._answer(query.id)
            return True
        button = await self._pressed(chat_id, query.data or "")
        if button is None:
            self.metrics.rejected.labels(CHANNEL, "bad_payload").inc()
            await self._answer(query.id, replies.BAD_PAYLOAD)
            return True
        receipt = await self._submit(
            chat_id, query.from_user, f"{update.update_id}:cb:{query.id}", payload=button
        )
        if receipt.unavailable:
            return False
        if receipt.duplicate:
            return True  # answered when it was taken in
        # Stops the spinner on the button; a stale button says why nothing happens.
        await self._answer(query.id, replies.BAD_PAYLOAD if receipt.rejection else None)
        return True

    async def _pressed(self, chat_id: int, data: str) -> Button | None:
        """The button behind callback data, looked up in this chat's own transcript only."""
        match = _CALLBACK.match(data)
        if match is None:
            return None
        service = self.intake.service
        conversation = await service.find_conversation(channel=CHANNEL, address=str(chat_id))
        if conversation is None:
            return None
        stored_id, index = int(match.group(1)), int(match.group(2))
        for entry in await service.transcript(conversation_id=conversation.id):
            if entry.id == stored_id:
                return entry.buttons[index] if index < len(entry.buttons) else None
        return None

    async def _answer(self, query_id: str, text: str | None = None) -> None:
        await api.call(self.bot.answer_callback_query, callback_query_id=query_id, text=text)

    async def _submit(
        self,
        chat_id: int,
        user: User,
        channel_message_id: str,
        *,
        text: str = "",
        payload: Button | None = None,
    ) -> Receipt:
        """Hand a message in through the intake service; wait until stored (or known as a duplicate)."""
        async with self.intake.in_line(CHANNEL, str(chat_id)):
            conversation = await self.conversation(chat_id, user.id, user.language_code)
            stored = self.intake.submit(
                InboundMessage(
                    channel=CHANNEL,
                    conversation_id=conversation.id,
                    channel_message_id=channel_message_id,
                    text=text,
                    payload=payload.payload if payload is not None else None,
                    payload_title=payload.title if payload is not None else None,
                    customer_external_id=conversation.customer_external_id,
                    locale=conversation.locale,
                )
            )
        receipt = await stored
        if receipt is None:
            raise RuntimeError("message handling ended without storing the message")
        return receipt

    async def conversation(self, chat_id: int, user_id: int, language_code: str | None) -> ConversationRef:
        """The chat's conversation, verified by a linked Telegram account when there is one."""
        service = self.intake.service
        linked = await service.customer_for_identity(channel=CHANNEL, external_user_id=str(user_id))
        locale = wire.locale(language_code)
        return await self.intake.open(
            channel=CHANNEL, address=str(chat_id), customer=linked, locale=locale, sticky=True
        )

    async def _once(self, update: Update, chat_id: int, text: str) -> None:
        """Answer an update that is not stored (a group command, a refusal) once, however often it comes."""
        if await self.intake.claim(f"{CHANNEL}:{update.update_id}:{chat_id}"):
            await self.say(chat_id, text)
        else:
            self.metrics.duplicates.labels(CHANNEL).inc()

    # -- deep links ----------------------------------------------------------------------

    async def deep_link(self, customer_external_id: str) -> DeepLink | None:
        """A t.me link that links this (already verified) customer's Telegram; None when links are off.

        ValueError for a customer id too long to fit in a start parameter.
        """
        username = await self._bot_username()
        return make_deep_link(
            username, customer_external_id, secret=self._link_secret, ttl=self._link_ttl, now=self._clock()
        )

    async def _bot_username(self) -> str:
        if not self._username:
            try:
                self._username = (await self.bot.get_me()).username or ""
            except TelegramError as exc:
                logger.warning("could not read the bot's username from Telegram: %s", type(exc).__name__)
        return self._username

    # -- life cycle --------------------------------------------------------------------

    async def start_polling(self, *, poll_timeout: float) -> None:
        self._poller = Poller(self, poll_timeout=poll_timeout)
        await self._poller.start()

    async def close(self) -> None:
        """Stop taking updates, let replies in progress go out, then let go of Telegram."""
        if self._poller is not None:
            await self._poller.stop(self._drain_seconds)
        # Replies still in progress go out through this bot: it must outlive them.
        await self.intake.service.aclose(timeout=self._drain_seconds)
        for task in self._typing.values():
            task.cancel()
        await asyncio.gather(*self._typing.values(), return_exceptions=True)
        self._typing.clear()
        await self.bot.shutdown()


def message_id(update: Update, chat_id: int, message: Message) -> str:
    """A message's channel id: unique per update, and per chat and message if Telegram's counter restarts."""
    return f"{update.update_id}:{chat_id}:{message.message_id}"
