"""One browser tab's WebSocket for the widget: frames out in order, by one writer, never blocking the bot."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

logger = logging.getLogger("bot.channels.widget")

_MAX_QUEUED_FRAMES = 256
# Close codes (RFC 6455 and the IANA registry).
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013

Frame = dict[str, Any]


class Connection:
    """One browser tab. Frames go out in the order they were pushed, by one writer."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._queue: asyncio.Queue[Frame | int | None] = asyncio.Queue()
        self._closing = False

    def push(self, frame: Frame) -> None:
        if self._closing:
            return
        if self._queue.qsize() >= _MAX_QUEUED_FRAMES:
            # A tab that reads nothing: let it go; it catches up from history on reconnect.
            logger.warning("widget connection not reading; closing it")
            self.close(CLOSE_TRY_AGAIN_LATER)
            return
        self._queue.put_nowait(frame)

    def close(self, code: int | None) -> None:
        """Stop after what is already queued; close the socket with `code` (None: it is gone)."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(code)

    async def write(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, int):
                    if self.websocket.application_state == WebSocketState.CONNECTED:
                        await self.websocket.close(code=item)
                    return
                await self.websocket.send_text(json.dumps(item, ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError, OSError):
            # The browser left mid-send. Nothing is lost: replies are in the transcript.
            logger.debug("widget connection gone while sending")


def json_object(text: str | None) -> Frame | None:
    """The frame a text message holds, when it is a JSON object."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
