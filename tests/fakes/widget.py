"""The widget's WebSocket protocol (docs/widget-protocol.md), from the browser's side.

- `WidgetClient`: a browser tab, frame by frame (gateway tests assert on frames).
- `open_session`, `is_bot_message`: a new tab's first frames, a reply's frame.
- `WidgetCustomer`: a customer in a tab, turn by turn: it says something or presses
  a button and returns the turn's replies (end-to-end tests against the real stack).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from bot.identity import sign_customer_identity


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


async def open_session(client: WidgetClient) -> tuple[str, list[dict[str, Any]]]:
    """The session token and history a new tab receives first."""
    session = await client.recv()
    assert session["type"] == "session"
    history = await client.recv()
    assert history["type"] == "history"
    return session["session"], history["messages"]


def is_bot_message(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["from"] != "customer"


class connect_widget:  # noqa: N801 - used like websockets' `connect`: `async with connect_widget(url) as tab`
    def __init__(self, url: str) -> None:
        self._connect = connect(url, open_timeout=5, max_size=None)

    async def __aenter__(self) -> WidgetClient:
        return WidgetClient(await self._connect.__aenter__())

    async def __aexit__(self, *exc: Any) -> None:
        await self._connect.__aexit__(*exc)


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


class WidgetCustomer:
    """A customer in a tab: says something and gets the turn's replies back."""

    def __init__(self, ws: ClientConnection, session: str | None, history: list[dict[str, Any]]) -> None:
        self.ws = ws
        self.session = session
        self.history = history

    @classmethod
    async def connect(
        cls, gateway_port: int, *, customer_id: str | None = None, secret: str = "", session: str | None = None
    ) -> WidgetCustomer:
        params = []
        if session:
            params.append(f"session={session}")
        if customer_id:
            expires = int(time.time()) + 3600
            signature = sign_customer_identity(customer_id, expires, secret)
            params.append(f"customer_id={customer_id}&expires={expires}&signature={signature}")
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
