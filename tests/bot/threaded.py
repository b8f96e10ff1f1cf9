"""The gateway on a real uvicorn, on its own event loop in a thread.

For tests whose clients are synchronous (Hypothesis drives plain functions) or
must measure what another client waits: if the gateway's loop stalled, they see it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from bot.app import create_app
from tests.bot.conftest import FakeRasa, free_port, gateway_settings


class ThreadedGateway:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/chat"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> ThreadedGateway:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive(), "gateway failed to start"
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@contextmanager
def threaded_gateway(db_url: str, fake_rasa: FakeRasa, **overrides: Any) -> Iterator[ThreadedGateway]:
    app = create_app(gateway_settings(db_url, **overrides), http_transport=httpx.MockTransport(fake_rasa.handler))
    with ThreadedGateway(app) as gateway:
        yield gateway
