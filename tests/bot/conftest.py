"""Gateway test fixtures: a database the gateway commits to for real, a
controllable stand-in for Rasa and the action server, the conversation
service wired to both, and the whole app served by a real uvicorn on a free
port with a real WebSocket client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from bot.app import create_app
from bot.channels.base import ConversationRef, OutboundMessage
from bot.conversations import ConversationService
from bot.identity import sign_customer_identity
from bot.metrics import Metrics
from bot.rasa import RasaClient
from bot.settings import GatewaySettings
from crm.db import make_engine
from crm.models import Base, Customer, Message

RASA_URL = "http://rasa.test"
ACTIONS_URL = "http://actions.test"
RASA_TOKEN = "Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0"
IDENTITY_SECRET = "Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1"
CONTACT = "help@shop.example or +44 20 7946 0321"


# -- database ----------------------------------------------------------------------


@pytest.fixture
def gateway_db_url(empty_db_url: str) -> Iterator[str]:
    engine = make_engine(empty_db_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield empty_db_url


@pytest.fixture
def db_engine(gateway_db_url: str) -> Iterator[Engine]:
    engine = make_engine(gateway_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(db_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(db_engine, expire_on_commit=False)


@pytest.fixture
def customer(db: sessionmaker[Session]) -> Customer:
    with db() as session:
        row = Customer(
            external_id="C001",
            first_name="Ada",
            last_name="Lovelace",
            email="ada.lovelace@example.com",
            phone="+447700900123",
        )
        session.add(row)
        session.commit()
        return row


def messages_of(db: sessionmaker[Session], conversation_id: str) -> list[Message]:
    with db() as session:
        return list(
            session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        )


# -- Rasa and the action server --------------------------------------------------


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
    `delay` makes every answer slow; `delays` per message text overrides it.
    """

    mode: str = "ok"
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
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


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


# -- the conversation service, without HTTP in front ------------------------------


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


def metric(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


@pytest_asyncio.fixture
async def make_rig(
    db: sessionmaker[Session], fake_rasa: FakeRasa
) -> AsyncIterator[Callable[..., ServiceRig]]:
    clients: list[httpx.AsyncClient] = []
    services: list[ConversationService] = []

    def build(*, timeout: float = 2.0, guard: Any = None, turn_policy: Any = None) -> ServiceRig:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake_rasa.handler))
        clients.append(http)
        metrics = Metrics()
        channel = ChannelLog()
        service = ConversationService(
            sessionmaker=db,
            rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=timeout),
            metrics=metrics,
            guard=guard,
            contact=lambda: CONTACT,
            turn_policy=turn_policy,
        )
        service.register_channel(channel)
        services.append(service)
        return ServiceRig(service=service, channel=channel, metrics=metrics, rasa=fake_rasa, db=db)

    yield build
    for service in services:
        await service.aclose(timeout=5)
    for http in clients:
        await http.aclose()


@pytest_asyncio.fixture
async def rig(make_rig: Callable[..., ServiceRig]) -> ServiceRig:
    return make_rig()


# -- the whole gateway on a real port ----------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_settings(db_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "rasa_url": RASA_URL,
        "action_server_url": ACTIONS_URL,
        "rasa_token": RASA_TOKEN,
        "widget_identity_secret": IDENTITY_SECRET,
        "rasa_timeout_seconds": 2.0,
        "health_timeout_seconds": 1.0,
        # Tests that want the order-notice sender turn it on (tests/bot/test_notices_gateway.py).
        "notices_enabled": False,
    }
    values.update(overrides)
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


class WidgetClient:
    """A browser tab, as far as the protocol goes."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The first frame matching `predicate`, and the frames before it."""
        skipped: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if predicate(frame):
                return frame, skipped
            skipped.append(frame)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Frames that arrive within `seconds` (for asserting that nothing more comes)."""
        frames = []
        try:
            while True:
                frames.append(await self.recv(seconds))
        except TimeoutError:
            return frames

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def say(self, client_id: str, text: str) -> None:
        await self.send({"type": "message", "id": client_id, "text": text})


@dataclass
class Gateway:
    url: str
    ws_url: str
    app: Any
    server: uvicorn.Server

    async def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample from the live /metrics page."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.url + "/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == (labels or {}):
                    return sample.value
        return 0.0

    def connect(
        self,
        *,
        session: str | None = None,
        customer_id: str | None = None,
        signature: str | None = None,
        sign: bool = False,
    ) -> Any:
        params = []
        if session:
            params.append(f"session={session}")
        if customer_id:
            params.append(f"customer_id={customer_id}")
            if sign:
                # What a shop's backend renders: an identity that expires in an hour.
                expires = int(time.time()) + 3600
                params.append(f"expires={expires}")
                signature = sign_customer_identity(customer_id, expires, IDENTITY_SECRET)
        if signature:
            params.append(f"signature={signature}")
        query = ("?" + "&".join(params)) if params else ""
        return _Connect(self.ws_url + query)


class _Connect:
    def __init__(self, url: str) -> None:
        self._connect = connect(url, open_timeout=5, max_size=None)

    async def __aenter__(self) -> WidgetClient:
        return WidgetClient(await self._connect.__aenter__())

    async def __aexit__(self, *exc: Any) -> None:
        await self._connect.__aexit__(*exc)


@pytest_asyncio.fixture
async def start_gateway(gateway_db_url: str, fake_rasa: FakeRasa) -> AsyncIterator[Callable[..., Any]]:
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(*, ws_max_size: int = 64 * 1024, **overrides: Any) -> Gateway:
        settings = gateway_settings(gateway_db_url, **overrides)
        app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
        port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            ws_max_size=ws_max_size,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        deadline = time.monotonic() + 10
        while not server.started:
            if task.done():
                task.result()
            if time.monotonic() > deadline:
                raise TimeoutError("gateway did not start")
            await asyncio.sleep(0.01)
        return Gateway(
            url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}/ws/chat", app=app, server=server
        )

    yield start
    for server, _ in servers:
        server.should_exit = True
    for _, task in servers:
        await asyncio.wait_for(task, 15)


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway()
