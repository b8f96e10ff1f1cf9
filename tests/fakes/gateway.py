"""The gateway app on a real uvicorn and a free port, for tests that talk to it over the wire.

- `start_gateway_server`: on the test's own event loop (async tests; the
  `start_gateway` fixture in tests/bot/conftest.py), returning a `Gateway`.
- `ThreadedGateway`: on its own event loop in a thread, for tests whose clients
  are synchronous (Hypothesis, sync Playwright) or must measure what another
  client waits: if the gateway's loop stalled, they see it. It can be stopped
  and started again on the same port.

Both are wired to a `FakeRasa` (tests/fakes/rasa.py) through httpx's MockTransport.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.identity import sign_customer_identity
from bot.settings import GatewaySettings
from tests.fakes.rasa import ACTIONS_URL, RASA_TOKEN, RASA_URL, FakeRasa, HandoffRasa
from tests.fakes.serving import free_port, start_here, start_thread, uvicorn_server
from tests.fakes.widget import connect_widget

IDENTITY_SECRET = "Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1"


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


def gateway_app(db_url: str, fake_rasa: FakeRasa | HandoffRasa, **overrides: Any) -> Any:
    """The real app, its Rasa and action server answered by `fake_rasa`."""
    return create_app(gateway_settings(db_url, **overrides), http_transport=httpx.MockTransport(fake_rasa.handler))


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

    async def metric_reaches(
        self, name: str, labels: dict[str, str] | None, value: float, timeout: float = 5.0
    ) -> None:
        """Wait until a counter the gateway raises in the background has reached `value`
        (a background turn finishes when it finishes: a fixed sleep races a busy machine)."""
        deadline = time.monotonic() + timeout
        while await self.metric(name, labels) < value and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

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
        return connect_widget(self.ws_url + query)


async def start_gateway_server(app: Any, *, ws_max_size: int = 64 * 1024) -> tuple[Gateway, asyncio.Task[None]]:
    """Serve `app` on this event loop; stop it with `server.should_exit = True` and await the task."""
    port = free_port()
    server = uvicorn_server(app, port, lifespan="on", ws_max_size=ws_max_size)
    task = await start_here(server, "the gateway")
    gateway = Gateway(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}/ws/chat", app=app, server=server)
    return gateway, task


class ThreadedGateway:
    """The gateway under uvicorn on its own loop in a thread; `make_app` runs at each start."""

    def __init__(self, make_app: Callable[[], Any], port: int | None = None) -> None:
        self._make_app = make_app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/chat"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        server = uvicorn_server(self._make_app(), self.port, lifespan="on")
        self._server, self._thread = server, start_thread(server, f"gateway:{self.port}")

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(20)
        self._server = self._thread = None

    def __enter__(self) -> ThreadedGateway:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextmanager
def threaded_gateway(db_url: str, fake_rasa: FakeRasa, **overrides: Any) -> Iterator[ThreadedGateway]:
    app = gateway_app(db_url, fake_rasa, **overrides)
    with ThreadedGateway(lambda: app) as gateway:
        yield gateway
