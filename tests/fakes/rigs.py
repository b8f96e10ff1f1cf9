"""The conversation service wired to fakes, without HTTP in front: one rig for every service test.

- `ChannelLog`: a channel that records what the service sends it.
- `ServiceRig` (`build_service_rig`): the service, a `ChannelLog`, metrics and a `FakeRasa`.
- `inbound`: a web message; `messages_of`: a conversation's stored messages.
- `make_service`: the service alone, for rigs that add collaborators (the handoff rig
  of tests/bot/staff_support.py adds a recording fan-out and a clock the test sets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import ConversationRef, InboundMessage, OutboundMessage
from bot.conversations import ConversationService
from bot.fanout import LocalFanout
from bot.metrics import Metrics
from bot.rasa import RasaClient
from crm.models import Message
from tests.fakes.rasa import RASA_TOKEN, RASA_URL, FakeRasa

CONTACT = "help@shop.example or +44 20 7946 0321"


class ChannelLog:
    """A channel that records what the service sends it."""

    name = "web"

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.typing_events: list[tuple[str, bool]] = []

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        self.sent.append((conversation.id, outbound))

    async def typing(self, conversation: ConversationRef, on: bool) -> None:
        self.typing_events.append((conversation.id, on))

    def texts(self, conversation_id: str) -> list[str]:
        return [o.text for cid, o in self.sent if cid == conversation_id]


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


def metric(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def inbound(conversation_id: str, client_id: str, text: str = "", **kw: object) -> InboundMessage:
    """A web message in the conversation; `client_id` makes its channel message id."""
    return InboundMessage(
        channel="web",
        conversation_id=conversation_id,
        channel_message_id=f"{conversation_id}:{client_id}",
        text=text,
        **kw,  # type: ignore[arg-type]
    )


def messages_of(db: sessionmaker[Session], conversation_id: str) -> list[Message]:
    with db() as session:
        return list(
            session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        )


def make_service(
    db: sessionmaker[Session], http: httpx.AsyncClient, *, timeout: float = 2.0, **collaborators: Any
) -> tuple[ConversationService, ChannelLog, Metrics]:
    """The service on `db`, its Rasa behind `http`, with a recording web channel."""
    metrics = Metrics()
    channel = ChannelLog()
    service = ConversationService(
        sessionmaker=db,
        rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=timeout),
        metrics=metrics,
        contact=lambda: CONTACT,
        **collaborators,
    )
    service.register_channel(channel)
    return service, channel, metrics


@dataclass
class ServiceRig:
    service: ConversationService
    channel: ChannelLog
    metrics: Metrics
    rasa: FakeRasa
    db: sessionmaker[Session]

    async def conversation(self, *, customer: str | None = None, address: str = "addr") -> ConversationRef:
        return await self.service.start_conversation(
            channel="web", address=address, customer_external_id=customer, locale="en"
        )


def build_service_rig(
    db: sessionmaker[Session], fake_rasa: FakeRasa, *, timeout: float = 2.0, guard: Any = None, turn_policy: Any = None
) -> tuple[ServiceRig, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake_rasa.handler))
    service, channel, metrics = make_service(db, http, timeout=timeout, guard=guard, turn_policy=turn_policy)
    return ServiceRig(service=service, channel=channel, metrics=metrics, rasa=fake_rasa, db=db), http
