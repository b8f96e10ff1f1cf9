"""/staff/ws: live updates for a console tab (the queue, or one conversation)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from bot.conversations import STAFF_QUEUE_KEY, staff_conversation_key
from bot.deps import Staff
from bot.routers.staff.conversations import CONVERSATION_ID, controls_json
from bot.routers.staff.queue import render_queue
from bot.staff import sessions
from bot.staff.context import Principal, StaffContext
from crm.clock import utcnow

logger = logging.getLogger(__name__)

router = APIRouter()

# Close codes for the live socket (4000-4999 are the application's own).
CLOSE_SIGNED_OUT = 4401
CLOSE_FORBIDDEN = 4403


class _Live:
    """One console tab's socket: frames go out in order, by one writer; queue renders coalesce."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=512)
        self.queue_dirty = False
        self.overflow = False

    def push(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "queue":
            if self.queue_dirty:
                return  # one re-render covers every change so far
            self.queue_dirty = True
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # A tab that reads nothing: let it go; it reloads what it missed when it reconnects.
            self.overflow = True


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser; the cookie still has to be valid
    host = websocket.headers.get("host", "")
    parts = urlsplit(origin)
    return parts.netloc == host


@router.websocket("/staff/ws")
async def live(websocket: WebSocket, ctx: Staff) -> None:
    principal = await ctx.principal(websocket.cookies.get(sessions.COOKIE))
    if principal is None or not _same_origin(websocket):
        # Closing before accepting answers the handshake with HTTP 403.
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    conversation_id = websocket.query_params.get("conversation")
    if conversation_id is not None and not CONVERSATION_ID.match(conversation_id):
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    await websocket.accept()
    connection = _Live(websocket)
    # The queue page follows the queue; a conversation page follows its conversation.
    key = STAFF_QUEUE_KEY if conversation_id is None else staff_conversation_key(conversation_id)
    unsubscribers: list[Callable[[], None]] = [ctx.fanout.subscribe(key, connection.push)]
    cookie = websocket.cookies.get(sessions.COOKIE)
    writer = asyncio.create_task(_write(ctx, principal, connection, conversation_id, cookie))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            # The console only listens; anything it sends is ignored.
    finally:
        for unsubscribe in unsubscribers:
            unsubscribe()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def _write(
    ctx: StaffContext, principal: Principal, connection: _Live, conversation_id: str | None, cookie: str | None
) -> None:
    websocket = connection.websocket
    recheck = ctx.settings.staff_ws_recheck_seconds
    try:
        while True:
            remaining = principal.session.expires_at - utcnow().timestamp()
            if remaining <= 0:
                await websocket.close(code=CLOSE_SIGNED_OUT)
                return
            try:
                frame = await asyncio.wait_for(connection.queue.get(), timeout=min(remaining, recheck))
            except TimeoutError:
                frame = None
            # Signed out, a new password, or deactivated since the socket opened: the
            # session is checked again before every frame and every few seconds.
            if await ctx.principal(cookie) is None:
                await websocket.close(code=CLOSE_SIGNED_OUT)
                return
            if frame is None:
                continue
            if connection.overflow:
                await websocket.close(code=1013)
                return
            if frame.get("type") == "queue":
                connection.queue_dirty = False
                frame = {"type": "queue", "event": frame.get("event"), "html": await render_queue(ctx)}
            elif frame.get("type") == "state" and conversation_id is not None:
                frame = {"type": "state", "controls": await controls_json(ctx, principal, conversation_id)}
            if websocket.application_state != WebSocketState.CONNECTED:
                return
            await websocket.send_json(frame)
    except (WebSocketDisconnect, RuntimeError, OSError):
        logger.debug("staff console socket gone while sending")
