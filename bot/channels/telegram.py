"""The Telegram channel (python-telegram-bot 22): a private chat with the shop's bot.

Inbound, by webhook (`/webhooks/telegram`, `bot/routers/telegram.py`) or by
polling, each update becomes at most one `InboundMessage` for the conversation
service; the conversation is found by the chat id. Outbound, replies go out
with `sendMessage` (split at Telegram's 4,096-character limit), buttons as an
inline keyboard whose callback data is `b:<stored message id>:<index>`,
because callback data is limited to 64 bytes and payloads are not.

Verification, both out of a stranger's reach:
- the customer shares their own phone number with Telegram's contact button;
  Telegram vouches that the contact's `user_id` is the sender's, and the number
  is matched to the CRM;
- the website hands a verified customer a signed, expiring deep link
  `https://t.me/<bot>?start=<token>` (`link_token`, `GET /telegram/link`).
Either way the Telegram user id is linked to the customer (a ChannelIdentity),
so later chats are verified at once.

Stickers, photos, voice notes, locations, edits and group chats get a polite
answer and never reach the assistant.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import logging
import re
import struct
import time
import warnings
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Updater
from telegram.warnings import PTBDeprecationWarning

from bot import replies
from bot.channels.base import Button, ConversationRef, InboundMessage, OutboundMessage
from bot.links import NEW_LINK_NOTICE
from crm.normalize import normalize_phone

if TYPE_CHECKING:
    from bot.conversations import ConversationService, Receipt
    from bot.metrics import Metrics
    from bot.settings import GatewaySettings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhooks/telegram"
# What the bot asks Telegram for; everything else (channel posts, member changes) is not a customer.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096, counted in UTF-16 code units
_CALLBACK = re.compile(r"^b:(\d{1,18}):(\d{1,3})$")
_LOCALE = re.compile(r"^([a-zA-Z]{2})(?:[-_]([a-zA-Z]{2}))?$")
# Telegram shows "typing…" for about five seconds; renew it until the turn ends.
_TYPING_EVERY_SECONDS = 4.0
_TYPING_AT_MOST_SECONDS = 60.0
_RECENT_UPDATES = 4096
_SEND_ATTEMPTS = 3
_MAX_RETRY_AFTER_SECONDS = 30.0

# -- what the channel itself says ------------------------------------------------------

SHARE_PHONE_BUTTON = "📱 Share my phone number"
WELCOME = (
    "Hi! I'm the shop's assistant. Ask me about your orders, returns, delivery or anything else — "
    "and you can ask for a person at any time."
)
WELCOME_VERIFY = (
    "If you'd like me to look up your orders, tap “Share my phone number” below: "
    "I'll match it with the number on your account."
)
WELCOME_BACK = "Welcome back! How can I help?"
VERIFIED = "Thanks — that's the number on your account, so I can help with your orders now."
NO_MATCH = (
    "Thanks — I couldn't find an account with that number. You can still ask me anything, "
    "or tell me your order number and the e-mail on the order so I can find it."
)
NOT_OWN_CONTACT = (
    "For your security I can only use your own number. Please tap “Share my phone number” "
    "instead of sending a contact."
)
LINKED_ELSEWHERE = (
    "This Telegram account is already linked to a different customer account, so I can't link it "
    "again. Please contact the shop if that's not right."
)
LINKED = "Done — your Telegram is now linked to your account with us. Ask me about your orders any time."
LINK_EXPIRED = "That link has expired. Please get a fresh one from our website and tap it again."
LINK_USED = "That link has already been used. Please get a fresh one from our website."
LINK_INVALID = "Sorry, that link isn't valid. Please get a fresh one from our website."
NON_TEXT = (
    "Sorry, I can only read text messages. Please type your question in words — "
    "and ask for a person if you need one."
)
EDITED = "I can't see changes to messages I've already read. Please send the corrected text as a new message."
GROUP_CHAT = (
    "I can only help in a private chat, so nobody else sees your details. Please message me directly."
)
CHOOSE = "Please choose:"


# -- deep links: a signed, expiring token in t.me/<bot>?start=<token> --------------------------

# Telegram allows 64 characters of A-Z a-z 0-9 _ - in the start parameter:
# 48 bytes of base64url. 4 hold the expiry and 12 the MAC, 32 are left for the id.
_LINK_MAC_BYTES = 12
_LINK_MAX_ID_BYTES = 32
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_LINK_CONTEXT = b"telegram-link/v1\x00"


class LinkTokenError(ValueError):
    """A deep-link token that does not verify: `expired` tells the two cases apart."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _link_mac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), _LINK_CONTEXT + body, hashlib.sha256).digest()[:_LINK_MAC_BYTES]


def link_token(customer_external_id: str, *, secret: str, expires_at: datetime) -> str:
    """A start parameter proving, until `expires_at`, that the shop vouches for this customer.

    ValueError without a secret, or for an id longer than 32 bytes (it would not fit in 64 characters).
    """
    if not secret:
        raise ValueError("no link secret configured")
    raw_id = customer_external_id.encode()
    if not raw_id or len(raw_id) > _LINK_MAX_ID_BYTES:
        raise ValueError("customer id does not fit in a Telegram start parameter")
    body = struct.pack(">I", int(expires_at.timestamp())) + raw_id
    return base64.urlsafe_b64encode(_link_mac(secret, body) + body).rstrip(b"=").decode()


def read_link_token(token: str, *, secret: str, now: datetime) -> str:
    """The customer external id a valid token names; LinkTokenError otherwise."""
    if not secret or not _LINK_TOKEN.match(token):
        raise LinkTokenError(expired=False)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise LinkTokenError(expired=False) from None
    mac, body = raw[:_LINK_MAC_BYTES], raw[_LINK_MAC_BYTES:]
    if len(body) < 5 or not hmac.compare_digest(mac, _link_mac(secret, body)):
        raise LinkTokenError(expired=False)
    (expires,) = struct.unpack(">I", body[:4])
    if now.timestamp() >= expires:
        raise LinkTokenError(expired=True)
    try:
        return body[4:].decode()
    except UnicodeDecodeError:  # pragma: no cover - only a MAC-valid token gets here
        raise LinkTokenError(expired=False) from None


@dataclass(frozen=True)
class DeepLink:
    url: str
    expires_at: datetime


# -- helpers ---------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram-sized pieces: cut at a paragraph, else a line, a sentence, a space; never mid-word
    unless a single word is longer than the limit."""
    text = text.strip()
    pieces: list[str] = []
    while _utf16_len(text) > limit:
        fits = _prefix_within(text, limit)
        window = text[:fits]
        cut = 0
        # A cut in the first half would leave a stub; look for a better one first.
        for separator in ("\n\n", "\n", ". ", "! ", "? ", " "):
            at = window.rfind(separator)
            if at > fits // 2:
                cut = at + len(separator.rstrip(" ")) if separator.strip() else at
                break
        if cut == 0:
            cut = fits
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _locale(language_code: str | None) -> str:
    match = _LOCALE.match(language_code or "")
    if match is None:
        return "en"
    language, region = match.group(1).lower(), match.group(2)
    return f"{language}-{region.upper()}" if region else language


def _e164(phone_number: str) -> str | None:
    # Telegram sends international numbers, usually without the "+".
    digits = phone_number.strip()
    if digits and not digits.startswith(("+", "0")):
        digits = "+" + digits
    return normalize_phone(digits)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # Read as either an int or a timedelta, so the coming change of type is harmless.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


class _Limiter(Protocol):
    def allow(self, key: str) -> bool: ...


T = TypeVar("T")


class TelegramChannel:
    name = CHANNEL

    def __init__(
        self,
        *,
        bot: Bot,
        service: ConversationService,
        metrics: Metrics,
        webhook_secret: str,
        link_secret: str,
        link_ttl_seconds: int,
        bot_username: str,
        max_message_chars: int,
        chat_limiter: _Limiter,
        drain_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.bot = bot
        self._service = service
        self._metrics = metrics
        self._webhook_secret = webhook_secret
        self._link_secret = link_secret
        self._link_ttl = timedelta(seconds=link_ttl_seconds)
        self._username = bot_username
        self._max_chars = max_message_chars
        self._limiter = chat_limiter
        self._drain_seconds = drain_seconds
        self._clock = clock
        self._typing: dict[str, asyncio.Task[None]] = {}
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}
        # Updates answered here without the service (stickers, contacts, commands):
        # a redelivery must not be answered twice. Text goes through the service's claim.
        self._recent: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._poller: _Poller | None = None

    # -- outbound (the Channel protocol) -------------------------------------------------

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        chat_id = int(conversation.address)
        markup = _inline_keyboard(outbound.id, outbound.buttons) if outbound.buttons else None
        pieces = split_text(outbound.text)
        if outbound.image:
            sent = await self._call(
                self.bot.send_photo,
                chat_id=chat_id,
                photo=outbound.image,
                reply_markup=markup if not pieces else None,
            )
            if sent is None:
                # Telegram could not fetch the image; the link still helps.
                pieces.append(outbound.image)
        if not pieces and markup is not None and not outbound.image:
            pieces = [CHOOSE]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            await self._call(
                self.bot.send_message, chat_id=chat_id, text=piece, reply_markup=markup if last else None
            )

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
        """A message from the channel itself (welcome, verification, refusals); not in the transcript."""
        await self._call(self.bot.send_message, chat_id=chat_id, text=text, reply_markup=markup)

    async def _call(self, method: Callable[..., Awaitable[T]], **kwargs: Any) -> T | None:
        """One Bot API call; waits out flood limits and retries network blips, never raises.

        The message is already in the transcript, so a failure here loses nothing
        staff can't see; the customer who blocked the bot just doesn't get it.
        """
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            try:
                return await method(**kwargs)
            except RetryAfter as exc:
                wait = _retry_seconds(exc)
                logger.warning("Telegram asked to slow down", extra={"retry_after": wait})
                await asyncio.sleep(wait)
            except (Forbidden, BadRequest, InvalidToken) as exc:
                # Blocked by the user, chat gone, or a request Telegram will never accept.
                logger.warning("Telegram refused a message: %s", type(exc).__name__)
                return None
            except NetworkError as exc:  # TimedOut is one too
                logger.warning("Telegram unreachable (attempt %d): %s", attempt, type(exc).__name__)
                await asyncio.sleep(0.5 * attempt)
            except TelegramError as exc:
                logger.warning("Telegram call failed: %s", type(exc).__name__)
                return None
        return None

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
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return None
        # python-telegram-bot does not check types: a "text" that is an object would
        # reach the message path as one (found by fuzzing). Refuse it here instead.
        if not _well_typed(data):
            return None
        try:
            return Update.de_json(data, self.bot)
        # OverflowError / OSError: a timestamp no clock can hold ("date": -2**63), found by fuzzing.
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError):
            return None

    async def process(self, update: Update) -> bool:
        """Take one update in. False only when a customer message could not be stored
        (Telegram should deliver it again); everything else is True."""
        if update.callback_query is not None:
            return await self._on_button(update)
        message = update.message
        if update.edited_message is not None:
            if update.edited_message.chat.type == ChatType.PRIVATE:
                await self._once(update, update.edited_message.chat_id, EDITED)
            return True
        if message is None or message.from_user is None:
            return True  # not a customer speaking (allowed_updates keeps these rare)
        if message.chat.type != ChatType.PRIVATE:
            # Only a command gets an answer: a staff group the bot sits in stays quiet.
            if (message.text or "").startswith("/"):
                await self._once(update, message.chat_id, GROUP_CHAT)
            return True
        if message.contact is not None:
            if self._first_time(update.update_id):
                await self._on_contact(message)
            return True
        if message.text is None:
            self._metrics.rejected.labels(CHANNEL, "not_text").inc()
            await self._once(update, message.chat_id, NON_TEXT)
            return True
        command, _, argument = message.text.partition(" ")
        if command in ("/start", f"/start@{self._username}"):
            if self._first_time(update.update_id):
                await self._on_start(message, argument.strip())
            return True
        return await self._on_text(update, message)

    async def _on_text(self, update: Update, message: Message) -> bool:
        assert message.text is not None and message.from_user is not None
        chat_id = message.chat_id
        if not self._limiter.allow(str(chat_id)):
            self._metrics.rate_limited.labels("session").inc()
            await self._once(update, chat_id, replies.RATE_LIMITED)
            return True
        if len(message.text) > self._max_chars:
            self._metrics.rejected.labels(CHANNEL, "too_long").inc()
            await self._once(
                update, chat_id, replies.TOO_LONG.format(length=len(message.text), limit=self._max_chars)
            )
            return True
        if not message.text.strip():
            return True
        receipt = await self._submit(
            chat_id,
            message.from_user.id,
            message.from_user.language_code,
            lambda conversation: InboundMessage(
                channel=CHANNEL,
                conversation_id=conversation.id,
                # The update id makes a redelivery a duplicate; chat and message id keep
                # a new update from colliding with an old one if Telegram's counter restarts.
                channel_message_id=f"{update.update_id}:{chat_id}:{message.message_id}",
                text=message.text or "",
                customer_external_id=conversation.customer_external_id,
                locale=conversation.locale,
            ),
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
            self._metrics.rejected.labels(CHANNEL, "bad_payload").inc()
            await self._answer(query.id, replies.BAD_PAYLOAD)
            return True
        receipt = await self._submit(
            chat_id,
            query.from_user.id,
            query.from_user.language_code,
            lambda conversation: InboundMessage(
                channel=CHANNEL,
                conversation_id=conversation.id,
                channel_message_id=f"{update.update_id}:cb:{query.id}",
                payload=button.payload,
                payload_title=button.title,
                customer_external_id=conversation.customer_external_id,
                locale=conversation.locale,
            ),
        )
        if receipt.unavailable:
            return False
        # Stops the spinner on the button; a stale button says why nothing happens.
        await self._answer(query.id, replies.BAD_PAYLOAD if receipt.rejection else None)
        return True

    async def _pressed(self, chat_id: int, data: str) -> Button | None:
        """The button behind callback data, looked up in this chat's own transcript only."""
        match = _CALLBACK.match(data)
        if match is None:
            return None
        conversation = await self._service.find_conversation(channel=CHANNEL, address=str(chat_id))
        if conversation is None:
            return None
        message_id, index = int(match.group(1)), int(match.group(2))
        for entry in await self._service.transcript(conversation_id=conversation.id):
            if entry.id == message_id:
                return entry.buttons[index] if index < len(entry.buttons) else None
        return None

    async def _answer(self, query_id: str, text: str | None = None) -> None:
        await self._call(self.bot.answer_callback_query, callback_query_id=query_id, text=text)

    async def _submit(
        self,
        chat_id: int,
        user_id: int,
        language_code: str | None,
        build: Callable[[ConversationRef], InboundMessage],
    ) -> Receipt:
        """Hand a message to the service and wait until it is stored (or known to be a duplicate)."""
        stored: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()

        async def on_stored(receipt: Receipt) -> None:
            if not stored.done():
                stored.set_result(receipt)

        # One chat at a time: two quick messages must not start two conversations,
        # and they must take their places in line in the order they came.
        async with self._chat_lock(chat_id):
            conversation = await self._conversation(chat_id, user_id, language_code)
            task = self._service.submit(build(conversation), on_stored=on_stored)
        await asyncio.wait({stored, task}, return_when=asyncio.FIRST_COMPLETED)
        if not stored.done():
            # Handling ended without a receipt: surface what went wrong.
            task.result()
            raise RuntimeError("message handling ended without storing the message")
        return stored.result()

    async def _conversation(self, chat_id: int, user_id: int, language_code: str | None) -> ConversationRef:
        """The chat's conversation, verified by a linked Telegram account when there is one."""
        linked = await self._service.customer_for_identity(channel=CHANNEL, external_user_id=str(user_id))
        conversation = await self._service.find_conversation(channel=CHANNEL, address=str(chat_id))
        if conversation is not None:
            if linked is None or conversation.customer_external_id == linked:
                return conversation
            if conversation.customer_external_id is None:
                try:
                    bound = await self._service.bind_customer(
                        conversation_id=conversation.id, customer_external_id=linked
                    )
                except (LookupError, ValueError):
                    # Erased a moment ago, or bound to someone else in between.
                    bound = None
                if bound is not None:
                    return bound
            # Someone else's conversation (or it could not take the customer): a fresh one.
        try:
            return await self._service.start_conversation(
                channel=CHANNEL,
                address=str(chat_id),
                customer_external_id=linked,
                locale=_locale(language_code),
            )
        except LookupError:
            # The linked customer was erased a moment ago.
            return await self._service.start_conversation(
                channel=CHANNEL,
                address=str(chat_id),
                customer_external_id=None,
                locale=_locale(language_code),
            )

    def _chat_lock(self, chat_id: int) -> _ChatLock:
        return _ChatLock(self._chat_locks, chat_id)

    # -- commands and verification -----------------------------------------------------

    async def _on_start(self, message: Message, argument: str) -> None:
        assert message.from_user is not None
        user = message.from_user
        if argument:
            await self._link_from_website(message.chat_id, user.id, user.language_code, argument)
            return
        linked = await self._service.customer_for_identity(channel=CHANNEL, external_user_id=str(user.id))
        if linked is not None:
            await self.say(message.chat_id, WELCOME_BACK)
            return
        await self.say(message.chat_id, f"{WELCOME}\n\n{WELCOME_VERIFY}", _share_phone_keyboard())

    async def _link_from_website(
        self, chat_id: int, user_id: int, language_code: str | None, token: str
    ) -> None:
        try:
            customer = read_link_token(token, secret=self._link_secret, now=self._clock())
        except LinkTokenError as exc:
            self._metrics.rejected.labels(CHANNEL, "link_expired" if exc.expired else "link_invalid").inc()
            logger.warning("Telegram deep link refused", extra={"reason": str(exc)})
            await self.say(chat_id, LINK_EXPIRED if exc.expired else LINK_INVALID)
            return
        # Single use: a link forwarded, leaked or tapped twice links one account, once.
        if not await self._service.claim_link_token(token=token, keep=self._link_ttl + timedelta(days=1)):
            self._metrics.rejected.labels(CHANNEL, "link_used").inc()
            logger.warning("Telegram deep link used again; refused")
            await self.say(chat_id, LINK_USED)
            return
        await self._verified(chat_id, user_id, language_code, customer, how="deep_link", success=LINKED)

    async def _on_contact(self, message: Message) -> None:
        assert message.contact is not None and message.from_user is not None
        user = message.from_user
        if message.contact.user_id != user.id:
            # Anyone can forward anyone's contact card; only one's own proves anything.
            self._metrics.rejected.labels(CHANNEL, "foreign_contact").inc()
            logger.info("shared contact is not the sender's own; refused")
            await self.say(message.chat_id, NOT_OWN_CONTACT)
            return
        phone = _e164(message.contact.phone_number)
        customer = await self._service.customer_for_phone(phone=phone) if phone else None
        if customer is None:
            logger.info("shared phone number matches no customer")
            await self.say(message.chat_id, NO_MATCH, ReplyKeyboardRemove())
            return
        await self._verified(
            message.chat_id, user.id, user.language_code, customer, how="contact", success=VERIFIED
        )

    async def _verified(
        self, chat_id: int, user_id: int, language_code: str | None, customer: str, *, how: str, success: str
    ) -> None:
        """Link the Telegram account to the customer and the chat's conversation to them."""
        before = await self._service.customer_for_identity(channel=CHANNEL, external_user_id=str(user_id))
        try:
            linked = await self._service.link_identity(
                customer_external_id=customer, channel=CHANNEL, external_user_id=str(user_id)
            )
        except LookupError:
            logger.warning("Telegram verification names no CRM customer", extra={"how": how})
            await self.say(chat_id, LINK_INVALID if how == "deep_link" else NO_MATCH, ReplyKeyboardRemove())
            return
        if not linked:
            logger.warning("Telegram account already linked to another customer", extra={"how": how})
            await self.say(chat_id, LINKED_ELSEWHERE, ReplyKeyboardRemove())
            return
        async with self._chat_lock(chat_id):
            conversation = await self._conversation(chat_id, user_id, language_code)
        logger.info("Telegram customer verified", extra={"how": how, "conversation_id": conversation.id})
        await self.say(chat_id, success, ReplyKeyboardRemove())
        if before != customer:
            # A new account can read this customer's orders: they hear about it where they already talk to us.
            await self._service.tell_customer_elsewhere(
                customer_external_id=customer,
                channel=CHANNEL,
                external_user_id=str(chat_id),
                text=NEW_LINK_NOTICE.format(channel="Telegram"),
            )

    # -- deep links ----------------------------------------------------------------------

    async def deep_link(self, customer_external_id: str) -> DeepLink | None:
        """A t.me link that links this (already verified) customer's Telegram; None when links are off.

        ValueError for a customer id too long to fit in a start parameter.
        """
        username = await self._bot_username()
        if not self._link_secret or not username:
            return None
        expires_at = (self._clock() + self._link_ttl).replace(microsecond=0)
        token = link_token(customer_external_id, secret=self._link_secret, expires_at=expires_at)
        return DeepLink(url=f"https://t.me/{username}?start={token}", expires_at=expires_at)

    async def _bot_username(self) -> str:
        if not self._username:
            try:
                self._username = (await self.bot.get_me()).username or ""
            except TelegramError as exc:
                logger.warning("could not read the bot's username from Telegram: %s", type(exc).__name__)
        return self._username

    # -- bookkeeping -------------------------------------------------------------------

    def _first_time(self, update_id: int) -> bool:
        if update_id in self._recent:
            self._metrics.duplicates.labels(CHANNEL).inc()
            return False
        self._recent[update_id] = None
        if len(self._recent) > _RECENT_UPDATES:
            self._recent.popitem(last=False)
        return True

    async def _once(self, update: Update, chat_id: int, text: str) -> None:
        if self._first_time(update.update_id):
            await self.say(chat_id, text)

    # -- life cycle --------------------------------------------------------------------

    async def start_polling(self, *, poll_timeout: float) -> None:
        self._poller = _Poller(self, poll_timeout=poll_timeout)
        await self._poller.start()

    async def close(self) -> None:
        """Stop taking updates, let replies in progress go out, then let go of Telegram."""
        if self._poller is not None:
            await self._poller.stop(self._drain_seconds)
        # Replies still in progress go out through this bot: it must outlive them.
        await self._service.aclose(timeout=self._drain_seconds)
        for task in self._typing.values():
            task.cancel()
        await asyncio.gather(*self._typing.values(), return_exceptions=True)
        self._typing.clear()
        await self.bot.shutdown()


class _ChatLock:
    """A per-chat asyncio lock that is forgotten when nobody holds or waits for it."""

    def __init__(self, locks: dict[int, tuple[asyncio.Lock, int]], chat_id: int) -> None:
        self._locks = locks
        self._chat_id = chat_id

    async def __aenter__(self) -> None:
        lock, users = self._locks.get(self._chat_id, (asyncio.Lock(), 0))
        self._locks[self._chat_id] = (lock, users + 1)
        await lock.acquire()

    async def __aexit__(self, *_: object) -> None:
        lock, users = self._locks[self._chat_id]
        lock.release()
        if users <= 1:
            del self._locks[self._chat_id]
        else:
            self._locks[self._chat_id] = (lock, users - 1)


class _Poller:
    """python-telegram-bot's Updater (getUpdates long polling) feeding the channel, one update at a time."""

    def __init__(self, channel: TelegramChannel, *, poll_timeout: float) -> None:
        self._channel = channel
        self._updater = Updater(channel.bot, asyncio.Queue())
        self._poll_timeout = poll_timeout
        self._task: asyncio.Task[None] | None = None
        self._polling = False

    async def start(self) -> None:
        # Bootstrapping retries until Telegram answers, so it runs in the background:
        # a Telegram outage must not keep the widget from starting.
        self._task = asyncio.create_task(self._run(), name="telegram-polling")
        self._task.add_done_callback(_report_polling_end)

    async def _run(self) -> None:
        await self._updater.initialize()
        await self._updater.start_polling(
            timeout=self._poll_timeout,
            bootstrap_retries=-1,
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=_polling_error,
        )
        self._polling = True
        logger.info("Telegram polling started")
        queue = self._updater.update_queue
        while True:
            update = await queue.get()
            try:
                if isinstance(update, Update):
                    await self._take(update)
            finally:
                queue.task_done()

    async def _take(self, update: Update) -> None:
        # Polled updates are already confirmed to Telegram: if the database is
        # down, keep trying for a while rather than drop the message.
        for delay in (0.5, 1.0, 2.0, 4.0):
            if await self._channel.process(update):
                return
            await asyncio.sleep(delay)
        if not await self._channel.process(update):
            message = update.effective_message
            if message is not None:
                await self._channel.say(message.chat_id, replies.UNAVAILABLE)

    async def stop(self, timeout: float) -> None:
        if self._task is None:
            return
        if self._polling:
            await self._updater.stop()  # ends the long poll and confirms what was fetched
            try:
                # What was fetched is confirmed to Telegram: take it in before stopping.
                await asyncio.wait_for(self._updater.update_queue.join(), timeout)
            except TimeoutError:
                logger.warning("Telegram updates still queued at shutdown were dropped")
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        # Not Updater.shutdown(): it shuts the bot down, and replies still in progress need it.
        logger.info("Telegram polling stopped")


def _report_polling_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Telegram polling stopped by an error", exc_info=task.exception())


def _polling_error(exc: TelegramError) -> None:
    # The library's default logs the whole exception; the type is enough and carries no token.
    logger.warning("Telegram polling error: %s", type(exc).__name__)


def _inline_keyboard(message_id: str, buttons: tuple[Button, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.title or b.payload, callback_data=f"b:{message_id}:{i}")]
            for i, b in enumerate(buttons)
        ]
    )


def _share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_PHONE_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# -- wiring, called from the gateway's lifespan ---------------------------------------------


async def open_channel(
    settings: GatewaySettings,
    *,
    service: ConversationService,
    metrics: Metrics,
    chat_limiter: _Limiter,
    stack: AsyncExitStack,
    drain_seconds: float,
) -> TelegramChannel | None:
    """The Telegram channel, started in the configured mode; None when Telegram is not configured.

    A Telegram outage at start-up does not stop the gateway: sending retries per
    message and polling keeps trying to connect.
    """
    if not settings.telegram_enabled:
        return None
    root = settings.telegram_api_base_url
    bot = Bot(
        settings.telegram_bot_token.get_secret_value().strip(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
    )
    try:
        await bot.initialize()
    except InvalidToken:
        # The library's message carries the token; say only what is wrong.
        logger.error("Telegram refused TELEGRAM_BOT_TOKEN; the Telegram channel is off")
        await bot.shutdown()
        return None
    except TelegramError as exc:
        logger.warning("Telegram not reachable at start-up: %s", type(exc).__name__)
    channel = TelegramChannel(
        bot=bot,
        service=service,
        metrics=metrics,
        webhook_secret=settings.telegram_webhook_secret.get_secret_value(),
        link_secret=settings.telegram_link_secret.get_secret_value(),
        link_ttl_seconds=settings.telegram_link_ttl_seconds,
        bot_username=settings.telegram_bot_username or (bot.username if _initialized(bot) else ""),
        max_message_chars=settings.max_message_chars,
        chat_limiter=chat_limiter,
        drain_seconds=drain_seconds,
    )
    service.register_channel(channel)
    stack.push_async_callback(channel.close)
    if settings.telegram_mode == "polling":
        await channel.start_polling(poll_timeout=10)
    else:
        await _register_webhook(settings, bot)
    logger.info("Telegram channel started", extra={"mode": settings.telegram_mode})
    return channel


async def _register_webhook(settings: GatewaySettings, bot: Bot) -> None:
    secret = settings.telegram_webhook_secret.get_secret_value()
    if not secret:
        logger.warning("TELEGRAM_WEBHOOK_SECRET is not set: every Telegram webhook call will be refused")
        return
    url = settings.telegram_webhook_url or (
        settings.public_base_url + WEBHOOK_PATH if settings.public_base_url else None
    )
    if url is None:
        return  # registered by hand (or by another gateway of this shop)
    try:
        await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
    except TelegramError as exc:
        logger.error("could not register the Telegram webhook: %s", type(exc).__name__)


def _initialized(bot: Bot) -> bool:
    try:
        bot.bot  # noqa: B018 - raises until getMe has answered
    except RuntimeError:
        return False
    return True


# Fields of the Bot API's objects this channel reads, by the JSON type Telegram sends.
_STRING_FIELDS = frozenset(
    {"text", "caption", "data", "phone_number", "first_name", "last_name", "username", "type", "language_code"}
)
# ("id" is a number for users and chats but a string for callback queries.)
_INTEGER_FIELDS = frozenset({"update_id", "message_id", "date", "user_id", "edit_date"})


def _well_typed(value: Any, depth: int = 0) -> bool:
    """True when every known field anywhere in the update has the type the Bot API gives it."""
    if depth > 20:
        return False
    if isinstance(value, list):
        return all(_well_typed(item, depth + 1) for item in value)
    if not isinstance(value, dict):
        return True
    for key, item in value.items():
        if key in _STRING_FIELDS and not isinstance(item, str):
            return False
        if key in _INTEGER_FIELDS and (not isinstance(item, int) or isinstance(item, bool)):
            return False
        if not _well_typed(item, depth + 1):
            return False
    return True
