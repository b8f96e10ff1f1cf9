"""The SMS channel: Twilio's inbound-message webhook in, Twilio's REST API out.

Inbound (`receive`, behind the signature check in `bot/routers/sms.py`): the
sender's number, normalised to E.164, finds the conversation; matched to
exactly one customer in the CRM it verifies them (Twilio signed the request,
and carriers deliver the number). STOP/START/HELP never reach the assistant:
the intake service records them and the consent they give; a bare number
picks one of the options the bot offered; everything else is submitted
through the intake service like any channel's message. The webhook is
answered with empty TwiML as soon as the message is stored, and every reply,
the bot's or a person's, goes out later through the REST API - so a slow
turn never holds Twilio's request open.

Outbound (`send`): buttons become numbered options, long replies are split
(see `split_text`), and nothing at all goes to a number that has opted out.

This module only translates: the database, the CRM and the shop profile are
reached through `bot.intake`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import Counter
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot import replies
from bot.core.messages import Button, ConversationRef, InboundMessage, OutboundMessage
from bot.channels.text import split_text as text_split
from bot.channels.twilio_http import SEND_TIMEOUT_SECONDS as _SEND_TIMEOUT_SECONDS
from bot.channels.twilio_http import TWILIO_API, make_twilio_client
from bot.intake.delivery import NotDelivered, not_delivered
from bot.intake.door import Intake, Unavailable
from bot.intake.keywords import CHANNEL, HELP_WORDS, START_WORDS, STOP_WORDS, Keyword
from bot.intake.shop import START_ACK, ShopTexts, shop_texts

if TYPE_CHECKING:
    from bot.metrics import Metrics

__all__ = ["START_ACK", "TWILIO_API", "ShopTexts", "TextNotSent", "make_twilio_client", "shop_texts"]

logger = logging.getLogger(__name__)

# Twilio's limit for one message body. Longer replies go out as several
# messages; a message over 160 GSM characters (70 with emoji or other
# non-GSM characters) is billed as several segments either way, so splitting
# earlier would not make it cheaper, only choppier.
MAX_SMS_CHARS = 1600
_PART_PREFIX_RESERVE = len("(99/99) ")
_MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
# "2", " 2 ", "#2", "2." - a pick from the numbered options.
_OPTION = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")
_INLINE_OPTIONS = 3
_INLINE_TITLE_CHARS = 20

# A person's reply did not go out (opted_out, refused, unreachable); it is in the transcript.
TextNotSent = NotDelivered


# -- formatting ------------------------------------------------------------------------


def numbered_options(buttons: tuple[Button, ...]) -> str:
    """'Reply 1 for Yes, 2 for No.' - or a list, when the options are many or long."""
    titles = [b.title.strip() or b.payload for b in buttons]
    if all(title == str(n) for n, title in enumerate(titles, 1)):
        return f"Reply with a number from 1 to {len(titles)}."
    inline = len(titles) <= _INLINE_OPTIONS and all(
        len(t) <= _INLINE_TITLE_CHARS and t[-1].isalnum() for t in titles
    )
    if inline:
        return "Reply " + ", ".join(f"{n} for {t}" for n, t in enumerate(titles, 1)) + "."
    return "Reply with a number:\n" + "\n".join(f"{n}) {t}" for n, t in enumerate(titles, 1))


def split_text(text: str, limit: int = MAX_SMS_CHARS) -> list[str]:
    """`text` as messages of at most `limit` characters, numbered "(1/3) " when split
    (cut as `bot.channels.text.split_text` cuts)."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts = text_split(text, limit - _PART_PREFIX_RESERVE)
    return [f"({n}/{len(parts)}) {part}" for n, part in enumerate(parts, 1)]


def render(outbound: OutboundMessage) -> list[str]:
    """What the customer's phone shows for one stored message."""
    text = outbound.text.strip()
    if outbound.image:
        # Plain SMS carries no pictures (MMS is US/Canada only): a link works everywhere.
        text = f"{text}\n{outbound.image}".strip()
    if outbound.buttons:
        text = f"{text}\n\n{numbered_options(outbound.buttons)}".strip()
    return split_text(text)


def keyword_of(body: str, *, opted_out: bool, opt_out_type: str | None = None) -> tuple[Keyword, str] | None:
    """The opt-out keyword this message is, and the word to store for it.

    As Twilio matches them: the whole message, any case. YES means START only
    for a number that has opted out; otherwise it is an answer for the bot.
    `opt_out_type` is what Twilio's Advanced Opt-Out says (it knows a shop's
    custom keywords).
    """
    word = body.strip().rstrip(".!").strip().upper()
    if word in STOP_WORDS:
        return "stop", word
    if word in HELP_WORDS:
        return "help", word
    if word in START_WORDS and (word != "YES" or opted_out):
        return "start", word
    kind = (opt_out_type or "").strip().upper()
    if kind == "STOP":
        return "stop", "STOP"
    if kind == "START":
        return "start", "START"
    if kind == "HELP":
        return "help", "HELP"
    return None


def option_index(body: str) -> int | None:
    match = _OPTION.match(body)
    return int(match.group(1)) if match else None


def empty_twiml() -> str:
    return str(MessagingResponse())


def twiml_message(text: str) -> str:
    response = MessagingResponse()
    response.message(text)
    return str(response)


# -- the channel -----------------------------------------------------------------------


class SmsChannel:
    name = CHANNEL

    def __init__(
        self,
        *,
        intake: Intake,
        metrics: Metrics,
        client: Client,
        from_number: str,
        auth_token: str,
        webhook_url: str,
        texts: Callable[[], ShopTexts] = shop_texts,
        send_timeout: float = _SEND_TIMEOUT_SECONDS,
    ) -> None:
        self._intake = intake
        self._metrics = metrics
        self._client = client
        self._from = from_number
        self._validator = RequestValidator(auth_token)
        self._webhook_url = webhook_url
        self._texts = texts
        self._send_timeout = send_timeout
        self.not_sent = Counter(
            "gateway_sms_not_sent",
            "Texts the gateway did not send, by reason (opted_out, refused, unreachable).",
            ["reason"],
            registry=metrics.registry,
        )

    # -- verification ------------------------------------------------------------------

    def signed(self, *, query: str, params: Mapping[str, Any], signature: str | None) -> bool:
        """Whether Twilio signed this request: HMAC-SHA1 of the public URL and the form, with our token."""
        if not signature:
            return False
        url = self._webhook_url + (f"?{query}" if query else "")
        return bool(self._validator.validate(url, params, signature))

    def refused(self, reason: str) -> None:
        """A webhook call turned away before anything was read from it."""
        self._metrics.rejected.labels(CHANNEL, reason).inc()
        logger.warning("sms webhook refused", extra={"reason": reason})

    # -- outbound (the Channel protocol) -----------------------------------------------

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        """Text `outbound` to the conversation's number, unless it has opted out.

        A text Twilio refuses or cannot take is not retried: it stays in the
        transcript, the failure is logged (status and Twilio's error code, never
        the number) and counted in gateway_sms_not_sent. For a staff member's
        reply it also raises NotDelivered (`bot.intake.delivery`), so the console
        can say it did not go out; the bot's turn carries on with its other messages.
        """
        reason = await self._text(conversation, outbound)
        if reason is not None:
            not_delivered(outbound, reason)

    async def _text(self, conversation: ConversationRef, outbound: OutboundMessage) -> str | None:
        """None once sent, else why not."""
        log = {"conversation_id": conversation.id, "message_id": outbound.id}
        if not await self._intake.may_text(conversation.address):
            self.not_sent.labels("opted_out").inc()
            logger.info("text not sent: the number has opted out of SMS", extra=log)
            return "opted_out"
        return await self._post(conversation.address, render(outbound), log)

    async def _post(self, to: str, parts: list[str], log: dict[str, Any]) -> str | None:
        for part in parts:
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self._client.messages.create_async(to=to, from_=self._from, body=part)
            except TwilioRestException as exc:
                self.not_sent.labels("refused").inc()
                logger.warning(
                    "Twilio refused a text",
                    extra={**log, "status": exc.status, "twilio_code": exc.code},
                )
                return "refused"
            except (httpx.HTTPError, TimeoutError) as exc:
                self.not_sent.labels("unreachable").inc()
                logger.warning(
                    "Twilio unreachable; text not sent", extra={**log, "error": type(exc).__name__}
                )
                return "unreachable"
        logger.info("text sent", extra={**log, "parts": len(parts)})
        return None

    async def typing(self, conversation: ConversationRef, on: bool) -> None:
        """SMS has no typing indicator."""

    # -- inbound -------------------------------------------------------------------------

    async def receive(self, params: Mapping[str, str]) -> str:
        """Handle one signed inbound text; return the TwiML to answer Twilio with."""
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        number = self._intake.phone(params.get("From"))
        if not _MESSAGE_SID.match(sid) or number is None:
            # Signed, so Twilio sent it - but not a text we can answer (a short
            # code or alphanumeric sender has no number to reply to).
            self._metrics.rejected.labels(CHANNEL, "bad_sender").inc()
            logger.warning("inbound text without a usable sender or MessageSid; ignored")
            return empty_twiml()
        body = params.get("Body") or ""
        try:
            async with self._intake.in_line(CHANNEL, number):
                sender = await self._intake.texting_number(number)
                conversation = await self._intake.open(
                    channel=CHANNEL,
                    address=number,
                    customer=sender.customer_external_id,
                    locale="en",
                    sticky=False,
                )
                keyword = keyword_of(
                    body, opted_out=not sender.may_text, opt_out_type=params.get("OptOutType")
                )
                if keyword is not None:
                    await self._keyword(conversation, number, sid, *keyword)
                    return empty_twiml()
                stored = self._intake.submit(await self._inbound(conversation, sid, body))
        except Unavailable as exc:
            self._metrics.failures.labels("database").inc()
            logger.error("could not take an inbound text: %s", type(exc).__name__)
            return twiml_message(replies.UNAVAILABLE)
        receipt = await stored
        if receipt is None or receipt.unavailable:
            # The database refused it: Twilio's own reply path still works.
            return twiml_message(replies.UNAVAILABLE)
        if receipt.rejection == "bad_payload":
            # The options moved on between our text and their answer.
            return twiml_message(replies.BAD_PAYLOAD)
        return empty_twiml()

    async def _inbound(self, conversation: ConversationRef, sid: str, body: str) -> InboundMessage:
        payload = title = None
        index = option_index(body)
        if index is not None:
            options = await self._intake.options(conversation.id)
            if 1 <= index <= len(options):
                payload, title = options[index - 1].payload, options[index - 1].title
        return InboundMessage(
            channel=CHANNEL,
            conversation_id=conversation.id,
            channel_message_id=sid,
            text="" if payload is not None else body,
            payload=payload,
            payload_title=title,
            customer_external_id=conversation.customer_external_id,
            locale=conversation.locale,
        )

    async def _keyword(
        self, conversation: ConversationRef, number: str, sid: str, keyword: Keyword, word: str
    ) -> None:
        reply = None
        if keyword != "stop":
            texts = await asyncio.to_thread(self._texts)
            reply = texts.start_reply() if keyword == "start" else texts.help_reply()
        inbound = InboundMessage(
            channel=CHANNEL,
            conversation_id=conversation.id,
            channel_message_id=sid,
            text=word,
            customer_external_id=conversation.customer_external_id,
            locale=conversation.locale,
        )
        receipt = await self._intake.keyword(inbound, number=number, keyword=keyword, reply=reply)
        if receipt.duplicate:
            self._metrics.duplicates.labels(CHANNEL).inc()
            return
        self._metrics.messages.labels(CHANNEL, "in").inc()
        logger.info("sms keyword", extra={"conversation_id": conversation.id, "keyword": keyword})
        if receipt.reply is not None and await self._text(conversation, receipt.reply) is None:
            self._metrics.messages.labels(CHANNEL, "out").inc()
