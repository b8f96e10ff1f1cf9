"""Helpers for the handoff and staff console tests.

- `HandoffRasa`: the fake Rasa of conftest.py plus Rasa's HTTP API endpoint
  `POST /conversations/{id}/trigger_intent` (what the gateway calls on resolve),
  recording what it was asked. Its webhook answers like the trained assistant
  for a handoff: "a person please" makes the bot hand over and, like
  `action_handoff`, records the handoff packet in the CRM.
- `HandoffRig`: the conversation service wired to it, a recording channel, an
  in-process fan-out and a clock the test sets.
- `StaffClient`: a staff member's browser as far as HTTP goes (cookies, the
  CSRF token from the page), against a gateway on a real port.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import ConversationRef, InboundMessage
from bot.conversations import ConversationService, Outcome
from bot.fanout import LocalFanout
from bot.metrics import Metrics
from bot.rasa import RasaClient
from bot.staff import accounts
from crm.models import AuditEntry, Handoff, Message, StaffRole, StaffUser
from crm.services.conversations import record_handoff
from crm.services.customers import get_customer_by_external_id
from crm.shop import ShopProfile, load_shop_profile
from tests.bot.conftest import CONTACT, RASA_TOKEN, RASA_URL, ChannelLog, FakeRasa, RasaCall

# Cheap parameters: tests create many accounts; the hash format is the real one.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "staff password 0123"
LONDON = "Europe/London"
# shop.yml: Monday to Friday 09:00-17:30, Saturday 10:00-14:00, Sunday closed (UK time).
MONDAY_MORNING = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # open
SUNDAY_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # closed; back Monday 09:00
CHRISTMAS_DAY = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)  # a holiday on a Friday

PERSON = "a person please"
HANDOFF_TEXT = "Of course — I'm passing you to a member of our team."
RATING_QUESTION = "How did we do today? Tap a number from 1 (poor) to 5 (great)."


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
                # As action_handoff does: the customer the gateway vouched for, if any.
                external_id = call.metadata.get("customer_id")
                customer = (
                    get_customer_by_external_id(session, external_id=external_id) if external_id else None
                )
                handoff = record_handoff(
                    session,
                    conversation_id=call.sender,
                    channel=call.metadata.get("channel", "web"),
                    customer=customer,
                    reason="request_human",
                    intent="request_human",
                    slots={"order_number": "1043"},
                    order_numbers=["1043"],
                    verified=customer is not None,
                )
                session.commit()
                packet = {
                    "id": handoff.id,
                    "reason": "request_human",
                    "priority": handoff.priority,
                    "verified": handoff.verified,
                }
            return [
                {"recipient_id": call.sender, "text": HANDOFF_TEXT},
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
            import asyncio

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


class RecordingFanout(LocalFanout):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, key: str, frame: dict[str, Any]) -> None:
        self.frames.append((key, frame))
        await super().publish(key, frame)

    def of(self, key: str) -> list[dict[str, Any]]:
        return [f for k, f in self.frames if k == key]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class HandoffRig:
    service: ConversationService
    channel: ChannelLog
    rasa: HandoffRasa
    fanout: RecordingFanout
    clock: Clock
    metrics: Metrics
    db: sessionmaker[Session]
    counter: int = 0

    async def conversation(self, *, customer: str | None = None, address: str = "addr") -> ConversationRef:
        return await self.service.start_conversation(
            channel="web", address=address, customer_external_id=customer, locale="en"
        )

    async def say(self, conversation_id: str, text: str = "", **kw: Any) -> Outcome:
        self.counter += 1
        message = InboundMessage(
            channel="web",
            conversation_id=conversation_id,
            channel_message_id=f"{conversation_id}:m{self.counter}",
            text=text,
            **kw,
        )
        return await self.service.handle(message)

    async def handed_off(self, *, customer: str | None = None, address: str = "addr") -> ConversationRef:
        conversation = await self.conversation(customer=customer, address=address)
        await self.say(conversation.id, PERSON)
        return conversation

    def staff(self, name: str = "Sam Carter", role: StaffRole = StaffRole.agent) -> int:
        return create_staff(self.db, name=name, role=role)

    def messages(self, conversation_id: str) -> list[Message]:
        with self.db() as session:
            return list(
                session.scalars(
                    select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
                )
            )

    def handoffs(self, conversation_id: str) -> list[Handoff]:
        with self.db() as session:
            return list(
                session.scalars(
                    select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
                )
            )

    def audit(self, action: str | None = None) -> list[AuditEntry]:
        with self.db() as session:
            query = select(AuditEntry).order_by(AuditEntry.id)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            return list(session.scalars(query))


def create_staff(
    db: sessionmaker[Session],
    *,
    name: str = "Sam Carter",
    role: StaffRole = StaffRole.agent,
    email: str | None = None,
) -> int:
    with db() as session:
        staff = accounts.create_staff(
            session,
            email=email or f"{name.split()[0].lower()}.{int(time.monotonic() * 1e6) % 10**9}@shop.example",
            name=name,
            role=role,
            password=PASSWORD,
            actor="test",
            hasher=FAST_HASHER,
        )
        session.commit()
        return staff.id


def staff_email(db: sessionmaker[Session], staff_id: int) -> str:
    with db() as session:
        staff = session.get(StaffUser, staff_id)
        assert staff is not None
        return staff.email


def build_rig(
    db: sessionmaker[Session],
    fake_rasa: FakeRasa,
    *,
    now: datetime = MONDAY_MORNING,
    profile: Callable[[], ShopProfile | None] = load_shop_profile,
    alerts: Any = None,
    timeout: float = 2.0,
) -> tuple[HandoffRig, httpx.AsyncClient]:
    rasa = HandoffRasa(fake_rasa, db)
    http = httpx.AsyncClient(transport=httpx.MockTransport(rasa.handler))
    metrics = Metrics()
    channel = ChannelLog()
    fanout = RecordingFanout()
    clock = Clock(now)
    service = ConversationService(
        sessionmaker=db,
        rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=timeout),
        metrics=metrics,
        contact=lambda: CONTACT,
        events=fanout,
        alerts=alerts,
        shop_profile=profile,
        clock=clock,
        console_url="https://shop.example",
    )
    service.register_channel(channel)
    rig = HandoffRig(
        service=service, channel=channel, rasa=rasa, fanout=fanout, clock=clock, metrics=metrics, db=db
    )
    return rig, http


# -- over HTTP ------------------------------------------------------------------------------


_CSRF = re.compile(r'data-csrf="([^"]+)"')
_FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class StaffClient:
    """One staff member's browser: its cookies, and the CSRF token the pages carry."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, headers=headers or {})
        self.csrf: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def sign_in_form(self) -> str:
        page = await self.http.get("/staff/sign-in")
        assert page.status_code == 200, page.text
        match = _FORM_CSRF.search(page.text)
        assert match
        return match.group(1)

    async def try_sign_in(self, email: str, password: str) -> httpx.Response:
        token = await self.sign_in_form()
        return await self.http.post(
            "/staff/sign-in", data={"csrf": token, "email": email, "password": password, "next": "/staff"}
        )

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        response = await self.try_sign_in(email, password)
        assert response.status_code == 303, response.text
        page = await self.http.get("/staff")
        assert page.status_code == 200
        match = _CSRF.search(page.text)
        assert match
        self.csrf = match.group(1)

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        json_reply: bool = True,
        csrf: str | None = "page",
    ) -> httpx.Response:
        headers = {"Accept": "application/json"} if json_reply else {}
        body = dict(data or {})
        if csrf == "page":
            assert self.csrf is not None
            headers["X-CSRF-Token"] = self.csrf
        elif csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return await self.http.post(path, data=body, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
