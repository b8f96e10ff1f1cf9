"""bot/channels/websocket.py: one tab's frames go out in order, by one writer; a tab that reads
nothing is let go; a browser that left mid-send costs nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect, WebSocketState

from bot.channels import websocket
from bot.channels.websocket import CLOSE_TOO_BIG, CLOSE_TRY_AGAIN_LATER, Connection, json_object


class Socket:
    """What the writer uses of starlette's WebSocket, recorded."""

    def __init__(self, *, gone_after: int | None = None) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.sent: list[dict[str, Any]] = []
        self.closed: list[int] = []
        self._gone_after = gone_after

    async def send_text(self, text: str) -> None:
        if self._gone_after is not None and len(self.sent) >= self._gone_after:
            raise WebSocketDisconnect(1001)
        self.sent.append(json.loads(text))

    async def close(self, code: int) -> None:
        self.closed.append(code)
        self.application_state = WebSocketState.DISCONNECTED


@pytest.mark.parametrize(
    ("text", "frame"),
    [('{"type": "message"}', {"type": "message"}), ("[1, 2]", None), ("not json", None), ("", None), (None, None)],
)
def test_only_a_json_object_is_a_frame(text: str | None, frame: dict[str, Any] | None) -> None:
    assert json_object(text) == frame


async def test_frames_go_out_in_order_then_the_socket_closes_with_the_code() -> None:
    socket = Socket()
    connection = Connection(socket)  # type: ignore[arg-type]
    for n in range(3):
        connection.push({"type": "message", "n": n, "text": "héllo"})
    connection.close(CLOSE_TOO_BIG)
    connection.push({"type": "late"})  # after close: dropped
    await asyncio.wait_for(connection.write(), 2)
    assert [f["n"] for f in socket.sent] == [0, 1, 2] and socket.sent[0]["text"] == "héllo"
    assert socket.closed == [CLOSE_TOO_BIG]


async def test_closing_for_a_socket_already_gone_sends_no_close() -> None:
    socket = Socket()
    connection = Connection(socket)  # type: ignore[arg-type]
    connection.push({"type": "typing", "on": True})
    connection.close(None)
    connection.close(CLOSE_TOO_BIG)  # only the first close counts
    await asyncio.wait_for(connection.write(), 2)
    assert socket.sent == [{"type": "typing", "on": True}] and socket.closed == []


async def test_a_tab_that_reads_nothing_is_closed_try_again_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "_MAX_QUEUED_FRAMES", 3)
    socket = Socket()
    connection = Connection(socket)  # type: ignore[arg-type]
    for n in range(5):
        connection.push({"n": n})
    await asyncio.wait_for(connection.write(), 2)
    assert [f["n"] for f in socket.sent] == [0, 1, 2]
    assert socket.closed == [CLOSE_TRY_AGAIN_LATER]


async def test_a_browser_gone_mid_send_ends_the_writer_quietly() -> None:
    socket = Socket(gone_after=1)
    connection = Connection(socket)  # type: ignore[arg-type]
    connection.push({"n": 0})
    connection.push({"n": 1})
    await asyncio.wait_for(connection.write(), 2)  # returns, never raises
    assert socket.sent == [{"n": 0}]
