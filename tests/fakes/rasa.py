"""Rasa and the action server, as far as the gateway talks to them (one fake for every test).

- `FakeRasa`: Rasa's REST webhook (the gateway channel), its tracker API and the
  action server's /health, served through `httpx.MockTransport(fake.handler)`.
- `HandoffRasa`: the same fake plus `POST /conversations/{id}/trigger_intent`
  (what the gateway calls on resolve), recording what it was asked. Its webhook
  answers like the trained assistant for a handoff: "a person please" makes the
  bot hand over and, like `action_handoff`, send the handoff packet for the
  gateway to queue (it only reads the CRM, to say so when one is already open).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from crm.services.conversations import open_handoff

RASA_URL = "http://rasa.test"
ACTIONS_URL = "http://actions.test"
RASA_TOKEN = "Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0"

PERSON = "a person please"
HANDOFF_TEXT = "Of course — I'm passing you to a member of our team."
ALREADY_QUEUED_TEXT = "You're already in our queue."
RATING_QUESTION = "How did we do today? Tap a number from 1 (poor) to 5 (great)."


@dataclass
class RasaCall:
    sender: str
    message: str
    metadata: dict[str, Any]
    authorization: str | None
    started: float
    ended: float = 0.0
    message_id: str | None = None


def echo(call: RasaCall) -> list[dict[str, Any]]:
    return [{"recipient_id": call.sender, "text": f"echo: {call.message}"}]


@dataclass
class FakeRasa:
    """Rasa's REST webhook and the action server's /health, under the test's control.

    mode: "ok" (answer with `reply`), "down" (connection refused), "error" (HTTP 500),
    "malformed" (200 with a body that is not the REST list), "empty" (200 with []).
    `delay` makes every answer slow; `delays` per message text overrides it; `gates` holds
    a message's answer until the test opens its event.
    """

    mode: str = "ok"
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    # A message whose text has a gate here waits until the test opens it (after any delay).
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    reply: Callable[[RasaCall], list[dict[str, Any]]] = echo
    # How "Rasa" read each message, sent as our channel's X-Nlu-Parse header (None: no header).
    parse: Callable[[RasaCall], dict[str, Any] | None] = lambda _call: None
    rasa_up: bool = True
    actions_up: bool = True
    calls: list[RasaCall] = field(default_factory=list)
    active: dict[str, int] = field(default_factory=dict)
    max_active_per_sender: int = 0
    active_total: int = 0
    max_active_total: int = 0
    # Rasa's tracker, as far as the gateway reads it: user events (with the gateway's message id) and rewinds.
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def calls_for(self, sender: str) -> list[RasaCall]:
        return [c for c in self.calls if c.sender == sender]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}"
        if request.method == "GET" and base == RASA_URL and request.url.path == "/":
            return self._health(self.rasa_up, request, "Hello from Rasa: 3.6.21")
        if request.method == "GET" and base == ACTIONS_URL and request.url.path == "/health":
            return self._health(self.actions_up, request, '{"status": "ok"}')
        if request.method == "POST" and base == RASA_URL and request.url.path == "/webhooks/gateway/webhook":
            return await self._webhook(request)
        parts = request.url.path.split("/")
        if base == RASA_URL and len(parts) >= 4 and parts[1] == "conversations" and parts[3] == "tracker":
            return self._tracker(request, parts[2], parts[4:])
        return httpx.Response(404)

    def _tracker(self, request: httpx.Request, sender: str, rest: list[str]) -> httpx.Response:
        if request.url.params.get("token") != RASA_TOKEN:
            return httpx.Response(401)
        events = self.events.setdefault(sender, [])
        if request.method == "GET" and not rest:
            return httpx.Response(200, json={"sender_id": sender, "events": events})
        if request.method == "POST" and rest == ["events"]:
            events.extend(json.loads(request.content))
            return httpx.Response(200, json={"sender_id": sender, "events": events})
        return httpx.Response(404)

    def _health(self, up: bool, request: httpx.Request, body: str) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, text=body)

    async def _webhook(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        call = RasaCall(
            sender=body["sender"],
            message=body["message"],
            metadata=body.get("metadata"),
            authorization=request.headers.get("authorization"),
            started=time.monotonic(),
            message_id=body.get("message_id"),
        )
        self.calls.append(call)
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        self.events.setdefault(call.sender, []).append(
            {"event": "user", "text": call.message, "message_id": call.message_id}
        )
        self.active[call.sender] = self.active.get(call.sender, 0) + 1
        self.active_total += 1
        self.max_active_per_sender = max(self.max_active_per_sender, self.active[call.sender])
        self.max_active_total = max(self.max_active_total, self.active_total)
        try:
            await asyncio.sleep(self.delays.get(call.message, self.delay))
            gate = self.gates.get(call.message)
            if gate is not None:
                await gate.wait()
        finally:
            self.active[call.sender] -= 1
            self.active_total -= 1
            call.ended = time.monotonic()
        if self.mode == "error":
            return httpx.Response(500, json={"error": "the assistant failed on this message"})
        if self.mode == "malformed":
            return httpx.Response(200, json={"unexpected": "shape"})
        if self.mode == "empty":
            return httpx.Response(200, json=[])
        parse = self.parse(call)
        headers = {"X-Nlu-Parse": json.dumps(parse)} if parse is not None else {}
        return httpx.Response(200, json=self.reply(call), headers=headers)


@dataclass
class Trigger:
    sender: str
    name: str
    entities: dict[str, Any]
    token: str | None
    at: float


@dataclass
class HandoffRasa:
    fake: FakeRasa
    db: sessionmaker[Session]
    triggers: list[Trigger] = field(default_factory=list)
    # Events appended to trackers (POST /conversations/{id}/tracker/events): (sender, events, token).
    appended: list[tuple[str, Any, str | None]] = field(default_factory=list)
    trigger_mode: str = "ok"  # "ok", "down", "error"
    trigger_delay: float = 0.0

    def __post_init__(self) -> None:
        self.original = self.fake.handler
        self.fake.reply = self.reply

    def reply(self, call: RasaCall) -> list[dict[str, Any]]:
        if PERSON in call.message:
            with self.db() as session:
                already = open_handoff(session, conversation_id=call.sender) is not None
            packet = {
                "reason": "request_human",
                "intent": "request_human",
                "slots": {"order_number": "1043"},
                "order_numbers": ["1043"],
                # As action_handoff does: the customer the gateway vouched for, if any.
                "customer_id": call.metadata.get("customer_id"),
            }
            return [
                {"recipient_id": call.sender, "text": ALREADY_QUEUED_TEXT if already else HANDOFF_TEXT},
                {"recipient_id": call.sender, "custom": {"handoff": packet}},
            ]
        return [{"recipient_id": call.sender, "text": f"echo: {call.message}"}]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        events = re.fullmatch(r"/conversations/([^/]+)/tracker/events", request.url.path)
        if request.method == "POST" and events:
            self.appended.append(
                (events.group(1), json.loads(request.content), request.url.params.get("token"))
            )
            if self.trigger_mode == "down":
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200, json={"sender_id": events.group(1)})
        match = re.fullmatch(r"/conversations/([^/]+)/trigger_intent", request.url.path)
        if request.method == "POST" and match:
            body = json.loads(request.content)
            self.triggers.append(
                Trigger(
                    sender=match.group(1),
                    name=body["name"],
                    entities=body.get("entities") or {},
                    token=request.url.params.get("token"),
                    at=time.monotonic(),
                )
            )
            await asyncio.sleep(self.trigger_delay)
            if self.trigger_mode == "down":
                raise httpx.ConnectError("connection refused", request=request)
            if self.trigger_mode == "error":
                return httpx.Response(500, json={"error": "boom"})
            messages = [
                {
                    "recipient_id": match.group(1),
                    "text": "Thanks for chatting with Sam! You're back with our assistant now.",
                },
                {
                    "recipient_id": match.group(1),
                    "text": RATING_QUESTION,
                    "buttons": [
                        {"title": str(n), "payload": f'/inform{{"rating":"{n}"}}'} for n in range(1, 6)
                    ],
                },
            ]
            return httpx.Response(200, json={"tracker": {"sender_id": match.group(1)}, "messages": messages})
        return await self.original(request)
