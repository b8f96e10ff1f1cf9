"""The soak's customers: people on the widget, SMS and Telegram who send one message, wait for
its answer (or apology), and send the next; each one keeps a ledger of what became of it.

A message counts as acknowledged when the channel took it for good (widget `ack`,
Twilio's webhook answered with empty TwiML, Telegram's webhook answered 200); a
refusal ("unavailable", a 503, a refused connection) is not a promise, so the
customer resends the same message id, as Twilio, Telegram and the widget do.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.fakes.twilio import FakeTwilioApi, Phone

APOLOGY = "Sorry — I'm having trouble answering right now."
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
TELEGRAM_SECRET = "soak-telegram-webhook-secret_0123456789"
# Replies of one turn may come as several messages: a turn is over after this much quiet.
QUIET = 2.5
# How long a customer waits for an answer before calling the message lost
# (covers a Rasa restart, the lease and a recovery pass).
WAIT = 180.0


@dataclass
class Sent:
    channel: str
    key: str
    acknowledged: bool = False
    replies: list[str] = field(default_factory=list)

    @property
    def apologies(self) -> int:
        return sum(1 for text in self.replies if text.startswith(APOLOGY))

    @property
    def answered(self) -> bool:
        return any(not text.startswith(APOLOGY) for text in self.replies)


class Customer:
    channel = ""

    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.ledger: list[Sent] = []

    async def converse(self, phrases: list[str], until: float) -> None:
        index = 0
        while time.monotonic() < until:
            sent = Sent(self.channel, uuid.uuid4().hex)
            self.ledger.append(sent)
            await self.exchange(sent, phrases[index % len(phrases)])
            index += 1
            await asyncio.sleep(1.0 + (index % 3))

    async def exchange(self, sent: Sent, text: str) -> None:
        raise NotImplementedError

    async def _collect(self, sent: Sent, count: Any, fetch: Any) -> None:
        """Wait for the turn's replies: at least one, then until they stop coming."""
        deadline = time.monotonic() + WAIT
        while count() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        seen = count()
        while seen:
            await asyncio.sleep(QUIET)
            if count() == seen:
                break
            seen = count()
        sent.replies.extend(fetch())


class WebhookCustomer(Customer):
    """A customer whose platform calls the gateway's webhook: each message is posted
    again until the gateway acknowledges it, then the replies are read off the fake."""

    def __init__(self, gateway_url: str) -> None:
        super().__init__(gateway_url)
        self.seen = 0

    def webhook(self, sent: Sent, text: str) -> dict[str, Any]:
        """The platform's POST to the gateway (httpx keyword arguments)."""
        raise NotImplementedError

    def acknowledges(self, response: httpx.Response) -> bool:
        return response.status_code == 200

    def received(self) -> list[str]:
        """Every text the fake platform has delivered to this customer so far."""
        raise NotImplementedError

    async def exchange(self, sent: Sent, text: str) -> None:
        request = self.webhook(sent, text)
        async with httpx.AsyncClient(timeout=30) as http:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and not sent.acknowledged:
                try:
                    sent.acknowledged = self.acknowledges(await http.post(**request))
                except httpx.HTTPError:
                    pass
                if not sent.acknowledged:
                    await asyncio.sleep(2)
        if not sent.acknowledged:
            return
        texts = lambda: self.received()[self.seen :]  # noqa: E731
        await self._collect(sent, lambda: len(texts()), texts)
        self.seen += len(sent.replies)


class SmsCustomer(WebhookCustomer):
    channel = "sms"

    def __init__(self, gateway_url: str, twilio: FakeTwilioApi, number: str) -> None:
        super().__init__(gateway_url)
        self.twilio = twilio
        self.phone = Phone(number)

    def webhook(self, sent: Sent, text: str) -> dict[str, Any]:
        form = self.phone.form(text, sid="SM" + sent.key)
        return {
            "url": self.gateway_url + "/webhooks/twilio/sms",
            "data": form,
            "headers": {"X-Twilio-Signature": self.phone.sign(form)},
        }

    def acknowledges(self, response: httpx.Response) -> bool:
        return response.status_code == 200 and response.text == EMPTY_TWIML

    def received(self) -> list[str]:
        return self.twilio.bodies_to(self.phone.number)


class TelegramCustomer(WebhookCustomer):
    channel = "telegram"

    def __init__(self, gateway_url: str, fake: FakeTelegram, user_id: int) -> None:
        super().__init__(gateway_url)
        self.fake = fake
        self.user = TelegramUser(user_id=user_id, first_name="Soak")

    def webhook(self, sent: Sent, text: str) -> dict[str, Any]:
        return {
            "url": self.gateway_url + "/webhooks/telegram",
            "json": self.user.text(text),
            "headers": {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        }

    def received(self) -> list[str]:
        return [m.get("text", "") for m in self.fake.of("sendMessage", self.user.chat_id)]


class WidgetCustomer(Customer):
    """A browser tab: reconnects with its session after the gateway restarts and reads the
    replies it missed from the history, the way the widget does."""

    channel = "web"

    def __init__(self, gateway_url: str) -> None:
        super().__init__(gateway_url)
        self.ws_url = gateway_url.replace("http://", "ws://") + "/ws/chat"
        self.session: str | None = None
        self.ws: Any = None
        self.known: set[str] = set()  # ids of replies already counted

    async def _connect(self) -> list[dict[str, Any]]:
        url = self.ws_url + (f"?session={self.session}" if self.session else "")
        self.ws = await websockets.connect(url, open_timeout=10)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if frame["type"] == "session":
                self.session = frame["session"]
            elif frame["type"] == "history":
                return frame["messages"]

    def _after(self, history: list[dict[str, Any]], client_id: str) -> list[dict[str, Any]] | None:
        """Replies stored after our message (None: our message is not in the history)."""
        for index, item in enumerate(history):
            if item.get("client_id") == client_id:
                later = []
                for reply in history[index + 1 :]:
                    if reply["from"] == "customer":
                        break
                    later.append(reply)
                return later
        return None

    async def exchange(self, sent: Sent, text: str) -> None:
        deadline = time.monotonic() + WAIT
        frame_out = json.dumps({"type": "message", "id": sent.key, "text": text})
        quiet_since: float | None = None
        resend = True
        while time.monotonic() < deadline:
            try:
                if self.ws is None:
                    history = await self._connect()
                    later = self._after(history, sent.key)
                    if later is not None:
                        sent.acknowledged = True
                        resend = False
                        # The tab redraws from the history: what it shows now is what was said.
                        sent.replies = [r["text"] for r in later if r.get("text")]
                        self.known.update(r["id"] for r in later)
                    if sent.replies:
                        quiet_since = time.monotonic()
                if resend:
                    await self.ws.send(frame_out)
                    resend = False
                timeout = QUIET if quiet_since else 5.0
                try:
                    frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
                except TimeoutError:
                    if quiet_since and time.monotonic() - quiet_since >= QUIET:
                        return
                    continue
                kind = frame["type"]
                if kind == "ack" and frame.get("id") == sent.key:
                    sent.acknowledged = True
                elif kind == "error" and frame.get("id") == sent.key:
                    await asyncio.sleep(2)  # refused ("unavailable"): send it again
                    resend = True
                elif kind == "message" and frame.get("from") != "customer" and sent.acknowledged:
                    self._take(sent, [frame])
                    quiet_since = time.monotonic()
                if quiet_since and time.monotonic() - quiet_since >= QUIET:
                    return
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                self.ws = None
                resend = not sent.acknowledged
                await asyncio.sleep(1)

    def _take(self, sent: Sent, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            if reply["id"] not in self.known and reply.get("text"):
                self.known.add(reply["id"])
                sent.replies.append(reply["text"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
