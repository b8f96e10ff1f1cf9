"""The SMS channel: Twilio's inbound-message webhook in, Twilio's REST API out.

Inbound (`receive`, behind the signature check in `bot/routers/sms.py`): the
sender's number, normalised to E.164, finds the conversation; matched to
exactly one customer in the CRM it verifies them (Twilio signed the request,
and carriers deliver the number). STOP/START/HELP are handled here and never
reach the assistant; a bare number picks one of the options the bot offered;
everything else is handed to the conversation service. The webhook is
answered with empty TwiML as soon as the message is stored, and every reply,
the bot's or a person's, goes out later through the REST API - so a slow
turn never holds Twilio's request open.

Outbound (`send`): buttons become numbered options, long replies are split
(see `split_text`), and nothing at all goes to a number that has opted out.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from prometheus_client import Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot import replies, sms_store, store
from bot.channels.base import Button, ConversationRef, InboundMessage, OutboundMessage
from bot.locks import KeyedFifo
from bot.sms_store import HELP_WORDS, START_WORDS, STOP_WORDS, Keyword
from crm.models import Sender
from crm.normalize import normalize_phone
from crm.shop import ShopProfileError, load_shop_profile

if TYPE_CHECKING:
    from bot.conversations import ConversationService, Receipt
    from bot.metrics import Metrics

logger = logging.getLogger(__name__)

CHANNEL = sms_store.CHANNEL
TWILIO_API = "https://api.twilio.com"
# Twilio's limit for one message body. Longer replies go out as several
# messages; a message over 160 GSM characters (70 with emoji or other
# non-GSM characters) is billed as several segments either way, so splitting
# earlier would not make it cheaper, only choppier.
MAX_SMS_CHARS = 1600
_PART_PREFIX_RESERVE = len("(99/99) ")
_MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
# "2", " 2 ", "#2", "2." - a pick from the numbered options.
_OPTION = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")
_SEND_TIMEOUT_SECONDS = 15.0
_INLINE_OPTIONS = 3
_INLINE_TITLE_CHARS = 20

# STOP gets no answer from us: Twilio confirms it itself, and carriers allow
# nothing more to a number that opted out (Twilio refuses it: error 21610).
START_ACK = "You're subscribed to texts from {shop} again. Reply HELP for help, STOP to opt out."

T = TypeVar("T")


class TextNotSent(Exception):
    """A person's reply did not go out (opted_out, refused, unreachable); it is in the transcript."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _HttpxTwilioClient(AsyncHttpClient):
    """The twilio library's async transport, on httpx, sending to `base_url`.

    A custom http client is the library's documented extension point (its REST
    domains have no base-URL setting): paths, auth and parsing stay the
    library's, only the origin is swapped when a test points it elsewhere.
    httpx rather than the library's aiohttp client, which leaks its session
    when a request fails (and uses an aiohttp API that is going away); one
    short-lived connection per request, so nothing needs closing after the
    conversation service has drained at shutdown (texts are few enough to
    afford it).
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(logger, is_async=True, timeout=timeout)
        self._base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self._base_url != TWILIO_API and url.startswith(TWILIO_API + "/"):
            url = self._base_url + url[len(TWILIO_API) :]
        # The library logs URLs (with the account SID) and headers at INFO; `send` logs what matters.
        logger.debug("Twilio API request: %s", method)
        async with httpx.AsyncClient(timeout=timeout or self.timeout) as http:
            response = await http.request(
                method,
                url,
                params=params,  # type: ignore[arg-type]
                data=data,
                headers=headers,
                auth=auth,
                follow_redirects=allow_redirects,
            )
        return TwilioResponse(response.status_code, response.text, response.headers)


def make_twilio_client(
    *,
    account_sid: str,
    auth_token: str,
    api_base_url: str = TWILIO_API,
    timeout: float = _SEND_TIMEOUT_SECONDS,
) -> Client:
    return Client(account_sid, auth_token, http_client=_HttpxTwilioClient(api_base_url, timeout))


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
    """`text` as messages of at most `limit` characters, numbered "(1/3) " when split.

    Cuts at the last paragraph break, else line break, else sentence end, else
    space in each window - but never in the first half of it, so no part is a
    stub - and only mid-word for a "word" longer than half a message (a URL).
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    window = limit - _PART_PREFIX_RESERVE
    parts: list[str] = []
    rest = text
    while len(rest) > window:
        cut = _boundary(rest[: window + 1], window)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [f"({n}/{len(parts)}) {part}" for n, part in enumerate(parts, 1)]


def _boundary(chunk: str, window: int) -> int:
    floor = window // 2
    for pattern in (r"\n\s*\n", r"\n", r"[.!?…][\"')\]]*\s", r"\s"):
        ends = [m.end() for m in re.finditer(pattern, chunk) if floor <= m.end() <= window]
        if ends:
            return ends[-1]
    return window


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


@dataclass(frozen=True)
class ShopTexts:
    """What HELP and START answers say about the shop."""

    name: str
    contact: str
    hours: str = ""

    def help_reply(self) -> str:
        hours = self.hours.strip()
        if hours and hours[-1] not in ".!?":
            hours += "."
        reach = f"{self.name} customer service: {self.contact}."
        return " ".join(part for part in (reach, hours, "Reply STOP to opt out of texts.") if part)

    def start_reply(self) -> str:
        return START_ACK.format(shop=self.name)


def shop_texts() -> ShopTexts:
    """From the shop profile (re-read when it changes); something true when it is unreadable."""
    try:
        profile = load_shop_profile()
    except ShopProfileError as exc:
        logger.warning("shop profile unreadable; SMS HELP answered without it: %s", exc)
        return ShopTexts(name="Our shop", contact="reply here and our team will get back to you")
    contact = " or ".join(p for p in (profile.contact.email, profile.contact.phone) if p) or profile.website
    return ShopTexts(name=profile.name, contact=contact, hours=profile.contact.hours)


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
        service: ConversationService,
        metrics: Metrics,
        sessionmaker: sessionmaker[Session],
        client: Client,
        from_number: str,
        auth_token: str,
        webhook_url: str,
        texts: Callable[[], ShopTexts] = shop_texts,
        send_timeout: float = _SEND_TIMEOUT_SECONDS,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._sessionmaker = sessionmaker
        self._client = client
        self._from = from_number
        self._validator = RequestValidator(auth_token)
        self._webhook_url = webhook_url
        self._texts = texts
        self._send_timeout = send_timeout
        # One inbound text per number at a time, in arrival order: two quick
        # texts from a new number must not start two conversations.
        self._arrivals = KeyedFifo()
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
        reply it also raises TextNotSent, so the console can say it did not go
        out; the bot's turn, by contrast, carries on with its other messages.
        """
        reason = await self._text(conversation, outbound)
        if reason is not None and outbound.sender == Sender.agent:
            raise TextNotSent(reason)

    async def _text(self, conversation: ConversationRef, outbound: OutboundMessage) -> str | None:
        """None once sent, else why not."""
        log = {"conversation_id": conversation.id, "message_id": outbound.id}
        if not await self._db(sms_store.may_text, number=conversation.address):
            self.not_sent.labels("opted_out").inc()
            logger.info("text not sent: the number has opted out of SMS", extra=log)
            return "opted_out"
        parts = render(outbound)
        for part in parts:
            try:
                async with asyncio.timeout(self._send_timeout):
                    await self._client.messages.create_async(
                        to=conversation.address, from_=self._from, body=part
                    )
            except TwilioRestException as exc:
                self.not_sent.labels("refused").inc()
                logger.warning(
                    "Twilio refused a text", extra={**log, "status": exc.status, "twilio_code": exc.code}
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
        number = normalize_phone(params.get("From"))
        if not _MESSAGE_SID.match(sid) or number is None:
            # Signed, so Twilio sent it - but not a text we can answer (a short
            # code or alphanumeric sender has no number to reply to).
            self._metrics.rejected.labels(CHANNEL, "bad_sender").inc()
            logger.warning("inbound text without a usable sender or MessageSid; ignored")
            return empty_twiml()
        body = params.get("Body") or ""
        arrival = self._arrivals.enter(number)
        try:
            await arrival.wait()
            conversation = await self._conversation_for(number)
            opted_out = not await self._db(sms_store.may_text, number=number)
            keyword = keyword_of(body, opted_out=opted_out, opt_out_type=params.get("OptOutType"))
            if keyword is not None:
                await self._keyword(conversation, number, sid, *keyword)
                return empty_twiml()
            inbound = await self._inbound(conversation, sid, body)
            stored = self._submit(inbound)
        except SQLAlchemyError as exc:
            self._metrics.failures.labels("database").inc()
            logger.error("could not take an inbound text: %s", type(exc).__name__)
            return twiml_message(replies.UNAVAILABLE)
        finally:
            arrival.release()
        receipt = await stored
        if receipt is None or receipt.unavailable:
            # The database refused it: Twilio's own reply path still works.
            return twiml_message(replies.UNAVAILABLE)
        if receipt.rejection == "bad_payload":
            # The options moved on between our text and their answer.
            return twiml_message(replies.BAD_PAYLOAD)
        return empty_twiml()

    async def _conversation_for(self, number: str) -> ConversationRef:
        customer = await self._db(sms_store.customer_for_number, number=number)
        conversation = await self._service.find_conversation(channel=CHANNEL, address=number)
        if conversation is not None:
            if conversation.customer_external_id == customer:
                return conversation
            if (
                customer is None
                and conversation.customer_external_id is not None
                and await self._db(
                    sms_store.verified_in_chat,
                    conversation_id=conversation.id,
                    customer_external_id=conversation.customer_external_id,
                )
            ):
                # Verified in this very conversation: the next text (after a restart too)
                # carries on, rather than asking the same person to prove it again.
                return conversation
            if conversation.customer_external_id is None and customer is not None:
                try:
                    bound = await self._service.bind_customer(conversation.id, customer)
                except LookupError:
                    # The customer was erased a moment ago: stay anonymous.
                    return conversation
                except store.CustomerConflict:
                    bound = None
                if bound is not None:
                    logger.info("sms sender verified", extra={"conversation_id": bound.id})
                    return bound
            # The number belongs to someone else now (or to nobody): the old
            # thread, and what the bot told it, stays with its customer.
            logger.info(
                "sms sender's CRM match changed; starting a new conversation",
                extra={"previous_conversation": conversation.id},
            )
        try:
            started = await self._service.start_conversation(
                channel=CHANNEL, address=number, customer_external_id=customer, locale="en"
            )
        except LookupError:
            started = await self._service.start_conversation(
                channel=CHANNEL, address=number, customer_external_id=None, locale="en"
            )
        logger.info(
            "sms conversation started",
            extra={"conversation_id": started.id, "verified": started.customer_external_id is not None},
        )
        return started

    async def _inbound(self, conversation: ConversationRef, sid: str, body: str) -> InboundMessage:
        payload = title = None
        index = option_index(body)
        if index is not None:
            options = await self._db(sms_store.latest_options, conversation_id=conversation.id)
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

    def _submit(self, inbound: InboundMessage) -> asyncio.Future[Receipt | None]:
        """Hand `inbound` over (its place in line is taken now); the future is its receipt."""
        stored: asyncio.Future[Receipt | None] = asyncio.get_running_loop().create_future()

        async def on_stored(receipt: Receipt) -> None:
            if not stored.done():
                stored.set_result(receipt)

        def finished(_: asyncio.Task[Any]) -> None:
            # Ended without storing (the service logged why): no receipt.
            if not stored.done():
                stored.set_result(None)

        self._service.submit(inbound, on_stored=on_stored).add_done_callback(finished)
        return stored

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
        receipt = await self._db(
            sms_store.record_keyword, inbound=inbound, number=number, keyword=keyword, reply=reply
        )
        if receipt.duplicate:
            self._metrics.duplicates.labels(CHANNEL).inc()
            return
        self._metrics.messages.labels(CHANNEL, "in").inc()
        logger.info("sms keyword", extra={"conversation_id": conversation.id, "keyword": keyword})
        if receipt.reply is not None and await self._text(conversation, receipt.reply) is None:
            self._metrics.messages.labels(CHANNEL, "out").inc()

    async def _db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return await asyncio.to_thread(self._unit_of_work, fn, kwargs)

    def _unit_of_work(self, fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
        with self._sessionmaker() as session:
            try:
                result = fn(session, **kwargs)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result
