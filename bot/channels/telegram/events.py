"""Telegram updates the gateway answers itself: /start, deep links, shared contacts, stickers, edits.

Each is recorded in the chat's transcript like a customer message (claimed once
in the database, so a redelivery - to any gateway, after a restart too - is
answered once), and so is the answer; neither reaches the assistant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Message, ReplyKeyboardRemove, Update

from bot.core.messages import ConversationRef, InboundMessage
from bot.channels.telegram import texts, wire
from bot.channels.telegram.links import LinkTokenError, read_link_token

if TYPE_CHECKING:
    from bot.channels.telegram.channel import TelegramChannel

logger = logging.getLogger("bot.channels.telegram")

CHANNEL = "telegram"
# What the transcript shows for each kind of update (never a phone number or a link token).
EVENT_TEXT = {
    "start": "/start",
    "deep_link": "/start (a link from the website)",
    "contact": "(shared a phone number)",
    "not_text": "(a message that is not text: a sticker, photo, voice note or location)",
    "edited": "(edited an earlier message)",
}


class Events:
    def __init__(
        self,
        channel: TelegramChannel,
        *,
        link_secret: str,
        link_ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._channel = channel
        self._intake = channel.intake
        self._link_secret = link_secret
        self._link_ttl = link_ttl
        self._clock = clock

    async def answer(
        self, update: Update, message: Message, kind: str, reply: str, markup: Any = None
    ) -> None:
        """Record the update and `reply` to it; a redelivery gets nothing."""
        conversation = await self._record(update, message, kind, reply)
        if conversation is not None:
            await self._channel.say(message.chat_id, reply, markup)

    async def start(self, update: Update, message: Message, argument: str) -> None:
        assert message.from_user is not None
        user = message.from_user
        if argument:
            conversation = await self._record(update, message, "deep_link")
            if conversation is not None:
                await self._link_from_website(
                    conversation, message.chat_id, user.id, user.language_code, argument
                )
            return
        service = self._intake.service
        linked = await service.customer_for_identity(channel=CHANNEL, external_user_id=str(user.id))
        if linked is not None:
            await self.answer(update, message, "start", texts.WELCOME_BACK)
            return
        welcome = f"{texts.WELCOME}\n\n{texts.WELCOME_VERIFY}"
        await self.answer(update, message, "start", welcome, wire.share_phone_keyboard())

    async def contact(self, update: Update, message: Message) -> None:
        assert message.contact is not None and message.from_user is not None
        conversation = await self._record(update, message, "contact")
        if conversation is None:
            return
        user = message.from_user
        if message.contact.user_id != user.id:
            # Anyone can forward anyone's contact card; only one's own proves anything.
            self._channel.metrics.rejected.labels(CHANNEL, "foreign_contact").inc()
            logger.info("shared contact is not the sender's own; refused")
            await self._reply(conversation, message.chat_id, texts.NOT_OWN_CONTACT)
            return
        phone = self._intake.phone(wire.international(message.contact.phone_number))
        customer = await self._intake.service.customer_for_phone(phone=phone) if phone else None
        if customer is None:
            logger.info("shared phone number matches no customer")
            await self._reply(conversation, message.chat_id, texts.NO_MATCH, ReplyKeyboardRemove())
            return
        await self._verified(
            conversation, message.chat_id, user.id, user.language_code, customer,
            how="contact", success=texts.VERIFIED,
        )  # fmt: skip

    async def _link_from_website(
        self, conversation: ConversationRef, chat_id: int, user_id: int, language_code: str | None, token: str
    ) -> None:
        metrics = self._channel.metrics
        try:
            customer = read_link_token(token, secret=self._link_secret, now=self._clock())
        except LinkTokenError as exc:
            metrics.rejected.labels(CHANNEL, "link_expired" if exc.expired else "link_invalid").inc()
            logger.warning("Telegram deep link refused", extra={"reason": str(exc)})
            refusal = texts.LINK_EXPIRED if exc.expired else texts.LINK_INVALID
            await self._reply(conversation, chat_id, refusal)
            return
        # Single use: a link forwarded, leaked or tapped twice links one account, once.
        keep = self._link_ttl + timedelta(days=1)
        if not await self._intake.service.claim_link_token(token=token, keep=keep):
            metrics.rejected.labels(CHANNEL, "link_used").inc()
            logger.warning("Telegram deep link used again; refused")
            await self._reply(conversation, chat_id, texts.LINK_USED)
            return
        await self._verified(
            conversation, chat_id, user_id, language_code, customer, how="deep_link", success=texts.LINKED
        )

    async def _verified(
        self,
        conversation: ConversationRef,
        chat_id: int,
        user_id: int,
        language_code: str | None,
        customer: str,
        *,
        how: str,
        success: str,
    ) -> None:
        """Link the Telegram account to the customer and the chat's conversation to them."""
        service = self._intake.service
        before = await service.customer_for_identity(channel=CHANNEL, external_user_id=str(user_id))
        try:
            linked = await service.link_identity(
                customer_external_id=customer, channel=CHANNEL, external_user_id=str(user_id)
            )
        except LookupError:
            logger.warning("Telegram verification names no CRM customer", extra={"how": how})
            refusal = texts.LINK_INVALID if how == "deep_link" else texts.NO_MATCH
            await self._reply(conversation, chat_id, refusal, ReplyKeyboardRemove())
            return
        if not linked:
            logger.warning("Telegram account already linked to another customer", extra={"how": how})
            await self._reply(conversation, chat_id, texts.LINKED_ELSEWHERE, ReplyKeyboardRemove())
            return
        async with self._intake.in_line(CHANNEL, str(chat_id)):
            conversation = await self._channel.conversation(chat_id, user_id, language_code)
        logger.info("Telegram customer verified", extra={"how": how, "conversation_id": conversation.id})
        await self._reply(conversation, chat_id, success, ReplyKeyboardRemove())
        if before != customer:
            # A new account can read this customer's orders: they hear about it where they already talk to us.
            await self._intake.announce_link(
                customer_external_id=customer,
                channel=CHANNEL,
                external_user_id=str(chat_id),
                label="Telegram",
            )

    async def _record(
        self, update: Update, message: Message, kind: str, reply: str | None = None
    ) -> ConversationRef | None:
        """Store the update (and `reply`) in the chat's conversation; None when it is a redelivery."""
        chat_id = message.chat_id
        user = message.from_user
        user_id = user.id if user is not None else chat_id
        async with self._intake.in_line(CHANNEL, str(chat_id)):
            language_code = user.language_code if user else None
            conversation = await self._channel.conversation(chat_id, user_id, language_code)
            answered = await self._intake.record(
                InboundMessage(
                    channel=CHANNEL,
                    conversation_id=conversation.id,
                    channel_message_id=f"{update.update_id}:{chat_id}:{message.message_id}",
                    text=EVENT_TEXT[kind],
                    customer_external_id=conversation.customer_external_id,
                    locale=conversation.locale,
                ),
                reply=reply,
                data={"kind": f"telegram_{kind}"},
                event={"kind": f"telegram_{kind}"},
            )
        if answered.duplicate:
            self._channel.metrics.duplicates.labels(CHANNEL).inc()
            return None
        return conversation

    async def _reply(
        self, conversation: ConversationRef, chat_id: int, text: str, markup: Any = None
    ) -> None:
        """The channel's answer, stored in the transcript, then sent."""
        await self._intake.note(conversation, text, {"kind": "telegram_reply"})
        await self._channel.say(chat_id, text, markup)
