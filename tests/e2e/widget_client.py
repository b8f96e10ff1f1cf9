"""A small client of the widget's WebSocket protocol (docs/widget-protocol.md)
for end-to-end tests: it says something and returns the turn's replies."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


def sign(secret: str, customer_id: str, expires: int) -> str:
    """What a shop's backend computes for the widget: HMAC of "<customer_id>:<expires>"."""
    return hmac.new(secret.encode(), f"{customer_id}:{expires}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Turn:
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.messages)

    @property
    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.messages for b in (m.get("buttons") or [])]

    def button(self, title_part: str) -> dict[str, str]:
        for b in self.buttons:
            if title_part.lower() in b["title"].lower():
                return b
        raise AssertionError(f"no button like {title_part!r} in {self.buttons}")


class WidgetClient:
    def __init__(self, ws: ClientConnection, session: str | None, history: list[dict[str, Any]]) -> None:
        self.ws = ws
        self.session = session
        self.history = history

    @classmethod
    async def connect(
        cls, gateway_port: int, *, customer_id: str | None = None, secret: str = "", session: str | None = None
    ) -> WidgetClient:
        params = []
        if session:
            params.append(f"session={session}")
        if customer_id:
            expires = int(time.time()) + 3600
            params.append(f"customer_id={customer_id}&expires={expires}&signature={sign(secret, customer_id, expires)}")
        ws = await websockets.connect(f"ws://127.0.0.1:{gateway_port}/ws/chat?{'&'.join(params)}")
        new_session = session
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "session":
                new_session = frame["session"]
            elif frame["type"] == "history":
                return cls(ws, new_session, frame["messages"])

    async def _send(self, frame: dict[str, Any], timeout: float) -> Turn:
        await self.ws.send(json.dumps(frame))
        turn = Turn()
        typing = False
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame["type"] == "error":
                raise AssertionError(f"gateway error: {frame}")
            if frame["type"] == "message" and frame.get("from") in {"bot", "agent", "system"}:
                turn.messages.append(frame)
                # A turn without "typing" (held for staff) is one gateway notice; within a
                # typing turn a notice (the queue after a handoff) comes before "typing off".
                if frame["from"] == "system" and not typing:
                    return turn
            if frame["type"] == "typing":
                typing = frame["on"] is True
                if frame["on"] is False:
                    return turn

    async def say(self, text: str, timeout: float = 60) -> Turn:
        return await self._send({"type": "message", "id": str(uuid.uuid4()), "text": text}, timeout)

    async def press(self, button: dict[str, str], timeout: float = 60) -> Turn:
        return await self._send(
            {"type": "message", "id": str(uuid.uuid4()), "payload": button["payload"], "title": button["title"]},
            timeout,
        )

    async def close(self) -> None:
        await self.ws.close()
