"""The website widget's channel: a WebSocket at /ws/chat (docs/widget-protocol.md).

It verifies who is connecting (a server-issued session token, optionally a
customer identity signed by the shop's backend), checks every frame (size,
shape, length, rate), turns good ones into `InboundMessage`s, and sends
frames back through a per-connection queue so a slow browser never holds up
the bot. Sessions, conversations and storing go through the intake service
(`bot.intake.door.Intake`), as for every channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import APIRouter, WebSocket

from bot import identity, replies
from bot.core.messages import ConversationRef, InboundMessage, OutboundMessage
from bot.channels.websocket import CLOSE_TOO_BIG, CLOSE_TRY_AGAIN_LATER, Connection, Frame
from bot.channels.websocket import json_object as _json_object
from bot.intake.delivery import NotDelivered

if TYPE_CHECKING:
    from bot.conversations import Receipt
    from bot.intake.door import Intake
    from bot.metrics import Metrics

logger = logging.getLogger(__name__)

CHANNEL = "web"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LOCALE = re.compile(r"^[a-z]{2}(?:-[A-Z]{2})?$")
_MAX_PAYLOAD_CHARS = 1000
_MAX_TITLE_CHARS = 200



class _Fanout(Protocol):
    def subscribe(self, key: str, listener: Callable[[Frame], None]) -> Callable[[], None]: ...

    async def publish(self, key: str, frame: Frame) -> None: ...


class _Limiter(Protocol):
    def allow(self, key: str) -> bool: ...


@dataclass(frozen=True)
class WidgetLimits:
    max_message_chars: int
    max_frame_bytes: int


class WidgetChannel:
    name = CHANNEL

    def __init__(
        self,
        *,
        intake: Intake,
        fanout: _Fanout,
        metrics: Metrics,
        limits: WidgetLimits,
        identity: identity.IdentityPolicy,
        session_idle: timedelta,
        session_limiter: _Limiter,
        ip_limiter: _Limiter,
        connect_limiter: _Limiter,
    ) -> None:
        self._intake = intake
        self._fanout = fanout
        self._metrics = metrics
        self._limits = limits
        self._identity = identity
        self._session_idle = session_idle
        self._sessions = session_limiter
        self._ips = ip_limiter
        self._connects = connect_limiter

    # -- outbound (the Channel protocol) -----------------------------------------

    async def send(self, conversation: ConversationRef, outbound: OutboundMessage) -> None:
        """Publish to the conversation's open tabs; NotDelivered (`bot.intake.delivery`) when the
        fan-out (Redis, with several gateways) cannot take it - for any sender, as before."""
        try:
            await self._fanout.publish(conversation.id, {"type": "message", **outbound.as_json()})
        except Exception as exc:
            raise NotDelivered(type(exc).__name__) from exc

    async def typing(self, conversation: ConversationRef, on: bool) -> None:
        await self._fanout.publish(conversation.id, {"type": "typing", "on": on})

    # -- inbound -------------------------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        ip = websocket.client.host if websocket.client else "unknown"
        if not self._connects.allow(ip):
            self._metrics.rate_limited.labels("connect").inc()
            await websocket.accept()
            await websocket.send_json(self._error("rate_limited", None))
            await websocket.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        params = websocket.query_params
        customer, verdict = await self._verified_customer(
            params.get("customer_id"), params.get("expires"), params.get("signature")
        )
        conversation, token = await self._intake.session(
            channel=CHANNEL,
            token=params.get("session"),
            customer=customer,
            expired_claim=params.get("customer_id") if verdict == "expired" else None,
            locale=_locale(params.get("locale")),
            idle_after=self._session_idle,
        )
        new_session = token is not None
        await websocket.accept()
        connection = Connection(websocket)
        writer = asyncio.create_task(connection.write())
        self._metrics.active_websockets.inc()
        # Subscribed before history is read, so a reply landing in between is not missed
        # (the widget redraws from the history frame, so it is not shown twice either).
        unsubscribe = self._fanout.subscribe(conversation.id, connection.push)
        try:
            if token is not None:
                connection.push({"type": "session", "session": token})
            history = await self._intake.history(conversation)
            connection.push(
                {"type": "history", "messages": [_history_item(conversation, e) for e in history]}
            )
            logger.info(
                "widget connected",
                extra={
                    "conversation_id": conversation.id,
                    "verified": customer is not None,
                    "new_session": new_session,
                },
            )
            await self._read(websocket, connection, conversation, ip)
        finally:
            unsubscribe()
            self._metrics.active_websockets.dec()
            connection.close(None)
            await writer
            logger.info("widget disconnected", extra={"conversation_id": conversation.id})

    async def _verified_customer(
        self, customer_id: str | None, expires: str | None, signature: str | None
    ) -> tuple[str | None, str]:
        """The verified customer id (or None) and the verdict on the signed identity."""
        if not customer_id and not signature:
            return None, "none"
        claimed = customer_id or ""
        verdict = self._identity.check(customer_id, expires, signature)
        if verdict != "ok":
            reason = "bad_signature" if verdict == "bad_signature" else "identity_" + verdict
            self._metrics.rejected.labels(CHANNEL, reason).inc()
            logger.warning(
                "widget identity signature invalid, expired or unexpiring; treated as anonymous",
                extra={"claimed_customer": identity.fingerprint(claimed), "reason": verdict},
            )
            return None, verdict
        if not await self._intake.customer_exists(claimed):
            logger.warning(
                "signed widget identity is not a CRM customer; treated as anonymous",
                extra={"claimed_customer": identity.fingerprint(claimed)},
            )
            return None, "unknown"
        return claimed, verdict

    async def _read(
        self, websocket: WebSocket, connection: Connection, conversation: ConversationRef, ip: str
    ) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            size = len(text.encode()) if text is not None else len(data or b"")
            if size > self._limits.max_frame_bytes:
                # Uvicorn enforces this before reading the frame; this catches other servers.
                self._metrics.rejected.labels(CHANNEL, "frame_too_big").inc()
                connection.close(CLOSE_TOO_BIG)
                return
            frame = _json_object(text)
            if frame is None:
                self._refuse(connection, "bad_frame", None)
                continue
            self._on_frame(frame, connection, conversation, ip)

    def _on_frame(self, frame: Frame, connection: Connection, conversation: ConversationRef, ip: str) -> None:
        client_id = frame.get("id")
        if (
            frame.get("type") != "message"
            or not isinstance(client_id, str)
            or not _CLIENT_ID.match(client_id)
        ):
            self._refuse(connection, "bad_frame", client_id if isinstance(client_id, str) else None)
            return
        for scope, limiter, key in (("session", self._sessions, conversation.id), ("ip", self._ips, ip)):
            if not limiter.allow(key):
                self._metrics.rate_limited.labels(scope).inc()
                connection.push(self._error("rate_limited", client_id))
                return
        has_text, has_payload = "text" in frame, "payload" in frame
        text, payload, title = frame.get("text"), frame.get("payload"), frame.get("title")
        if has_text == has_payload:
            self._refuse(connection, "bad_frame", client_id)
            return
        if has_payload:
            if not isinstance(payload, str) or not payload or len(payload) > _MAX_PAYLOAD_CHARS:
                self._refuse(connection, "bad_payload", client_id)
                return
            title = title[:_MAX_TITLE_CHARS] if isinstance(title, str) and title.strip() else None
            text = ""
        else:
            if not isinstance(text, str):
                self._refuse(connection, "bad_frame", client_id)
                return
            if len(text) > self._limits.max_message_chars:
                self._refuse(connection, "too_long", client_id, length=len(text))
                return
            if not text.strip():
                self._refuse(connection, "bad_frame", client_id, sentence=replies.EMPTY_MESSAGE)
                return
            payload = title = None
        inbound = InboundMessage(
            channel=CHANNEL,
            conversation_id=conversation.id,
            # Scoped by conversation: another session reusing an id cannot swallow this one.
            channel_message_id=f"{conversation.id}:{client_id}",
            text=text,
            payload=payload,
            payload_title=title,
            customer_external_id=conversation.customer_external_id,
            locale=conversation.locale,
            client_address=f"ip:{ip}",
        )

        async def stored(receipt: Receipt) -> None:
            if receipt.unavailable:
                connection.push(self._error("unavailable", client_id))
                return
            connection.push({"type": "ack", "id": client_id})
            if receipt.duplicate:
                return
            # Other tabs of this session show what the customer wrote, too.
            await self._fanout.publish(
                conversation.id,
                {
                    "type": "message",
                    "id": str(receipt.message_id),
                    "from": "customer",
                    "text": receipt.text,
                    "buttons": [],
                    "client_id": client_id,
                    "ts": receipt.created_at.isoformat() if receipt.created_at else None,
                },
            )
            if receipt.rejection is not None:
                connection.push(self._error(receipt.rejection, client_id))

        self._intake.submit(inbound, then=stored)

    def _refuse(
        self,
        connection: Connection,
        code: str,
        client_id: str | None,
        *,
        length: int = 0,
        sentence: str | None = None,
    ) -> None:
        self._metrics.rejected.labels(CHANNEL, code).inc()
        connection.push(self._error(code, client_id, length=length, sentence=sentence))

    def _error(
        self, code: str, client_id: str | None, *, length: int = 0, sentence: str | None = None
    ) -> Frame:
        texts = {
            "too_long": replies.TOO_LONG.format(length=length, limit=self._limits.max_message_chars),
            "rate_limited": replies.RATE_LIMITED,
            "bad_frame": replies.BAD_FRAME,
            "bad_payload": replies.BAD_PAYLOAD,
            "unavailable": replies.UNAVAILABLE,
        }
        return {"type": "error", "code": code, "text": sentence or texts[code], "id": client_id}


def _locale(value: str | None) -> str:
    return value if value and _LOCALE.match(value) else "en"


def _history_item(conversation: ConversationRef, entry: Any) -> Frame:
    item: Frame = {
        "id": str(entry.id),
        "from": entry.sender.value,
        "text": entry.text,
        "buttons": [b.as_json() for b in entry.buttons],
        "ts": entry.created_at.isoformat(),
    }
    if entry.image:
        item["image"] = entry.image
    prefix = conversation.id + ":"
    if entry.channel_message_id and entry.channel_message_id.startswith(prefix):
        item["client_id"] = entry.channel_message_id[len(prefix) :]
    return item


router = APIRouter()


@router.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    widget: WidgetChannel = websocket.state.widget
    await widget.serve(websocket)
