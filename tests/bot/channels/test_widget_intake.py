"""bot.channels.widget through the one door: sessions, history and messages all go through the
intake service, so the adapter needs no conversation service and no database of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.channels import widget
from bot.core.messages import ConversationRef, InboundMessage
from bot.core.outcomes import OnStored, Receipt
from bot.identity import IdentityPolicy
from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from crm.vocabulary import ConversationState

CONVERSATION = ConversationRef(
    id="conv-1", channel="web", address="hash", customer_external_id=None, locale="fr", state=ConversationState.bot
)
IDLE = timedelta(days=3)


class _RecordingIntake:
    """Stands in for `bot.intake.door.Intake`: records what the widget asks of it."""

    def __init__(self, receipt: Callable[[InboundMessage], Receipt]) -> None:
        self.sessions: list[dict[str, Any]] = []
        self.submitted: list[InboundMessage] = []
        self._receipt = receipt

    async def session(self, **asked: Any) -> tuple[ConversationRef, str | None]:
        self.sessions.append(asked)
        return CONVERSATION, "new-token"

    async def customer_exists(self, external_id: str) -> bool:
        return False

    async def history(self, conversation: ConversationRef) -> list[Any]:
        return []

    def submit(self, inbound: InboundMessage, *, then: OnStored | None = None) -> asyncio.Future[Receipt | None]:
        self.submitted.append(inbound)
        assert then is not None
        task = asyncio.ensure_future(then(self._receipt(inbound)))
        stored: asyncio.Future[Receipt | None] = asyncio.get_running_loop().create_future()
        task.add_done_callback(lambda _: stored.set_result(None))
        return stored


class _Fanout:
    def subscribe(self, key: str, listener: Callable[[widget.Frame], None]) -> Callable[[], None]:
        return lambda: None

    async def publish(self, key: str, frame: widget.Frame) -> None:
        return None


def _client(intake: _RecordingIntake) -> TestClient:
    limiter = RateLimiter(per_minute=600, burst=100)
    channel = widget.WidgetChannel(
        intake=intake, fanout=_Fanout(), metrics=Metrics(),  # type: ignore[arg-type]
        limits=widget.WidgetLimits(max_message_chars=2000, max_frame_bytes=16_384),
        identity=IdentityPolicy(secret="s" * 32), session_idle=IDLE,
        session_limiter=limiter, ip_limiter=limiter, connect_limiter=limiter,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"widget": channel}

    app = FastAPI(lifespan=lifespan)
    app.include_router(widget.router)
    return TestClient(app)


def test_the_widget_opens_its_session_through_intake_and_submits_there() -> None:
    intake = _RecordingIntake(lambda m: Receipt(m.conversation_id, m.channel_message_id, duplicate=True))
    with _client(intake) as client, client.websocket_connect("/ws/chat?session=old-token&locale=fr") as tab:
        assert tab.receive_json() == {"type": "session", "session": "new-token"}
        assert tab.receive_json() == {"type": "history", "messages": []}
        tab.send_json({"type": "message", "id": "m-1", "text": "hello"})
        assert tab.receive_json() == {"type": "ack", "id": "m-1"}
    assert intake.sessions == [
        {
            "channel": "web",
            "token": "old-token",
            "customer": None,
            "expired_claim": None,
            "locale": "fr",
            "idle_after": IDLE,
        }
    ]
    [inbound] = intake.submitted
    assert (inbound.conversation_id, inbound.channel_message_id, inbound.text) == ("conv-1", "conv-1:m-1", "hello")


def test_a_message_the_database_could_not_take_is_refused_as_today() -> None:
    intake = _RecordingIntake(
        lambda m: Receipt(m.conversation_id, m.channel_message_id, duplicate=False, unavailable=True)
    )
    with _client(intake) as client, client.websocket_connect("/ws/chat") as tab:
        tab.receive_json()
        tab.receive_json()
        tab.send_json({"type": "message", "id": "m-2", "text": "hello"})
        error = tab.receive_json()
    assert (error["type"], error["code"], error["id"]) == ("error", "unavailable", "m-2")
    assert intake.sessions[0]["token"] is None
