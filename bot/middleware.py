"""Request ids and access lines: method, path (never the query string), status, time."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.logs import request_id_var, truncate

logger = logging.getLogger("bot.access")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_MAX_LOGGED_PATH = 512


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                logger.info(
                    "%s %s %s",
                    scope["method"],
                    # The path is the client's to choose: 64 KiB of it is not a log line.
                    truncate(scope["path"], _MAX_LOGGED_PATH),
                    status,
                    extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
                )
            request_id_var.reset(token)
