"""A shop's endpoint for the assistant's requests (SHOP_REQUESTS_WEBHOOK_URL), served
from a thread for the stack's worker to call. It checks each signature itself,
with the standard library, and records what arrived."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.serving import served_in_thread

SECRET = "e2e-shop-requests-secret-0123456789"
SHOPIFY_SECRET = "e2e-shopify-webhook-secret-0123456789"


@dataclass
class Delivery:
    event_id: str
    signature_ok: bool
    body: dict[str, Any]


@dataclass
class FakeShop:
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def receive(self, request: Request) -> JSONResponse:
        raw = await request.body()
        expected = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        delivery = Delivery(
            event_id=request.headers.get("X-Shop-Assistant-Event-Id", ""),
            signature_ok=hmac.compare_digest(expected, request.headers.get("X-Shop-Assistant-Hmac-Sha256", "")),
            body=json.loads(raw),
        )
        with self._lock:
            self.deliveries.append(delivery)
        return JSONResponse({"ok": True}, status_code=200 if delivery.signature_ok else 401)

    def wait_for(self, reference: str, timeout: float = 30) -> Delivery:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for delivery in self.deliveries:
                    if delivery.body.get("data", {}).get("reference") == reference:
                        return delivery
            time.sleep(0.2)
        raise AssertionError(f"the shop never received request {reference}")

    def gateway_env(self) -> dict[str, str]:
        return {
            "SHOP_REQUESTS_WEBHOOK_URL": self.url,
            "SHOP_REQUESTS_WEBHOOK_SECRET": SECRET,
            "SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
        }


@contextmanager
def serve_fake_shop() -> Iterator[FakeShop]:
    fake = FakeShop()
    app = Starlette(routes=[Route("/assistant-requests", fake.receive, methods=["POST"])])
    with served_in_thread(app, "the fake shop") as port:
        fake.url = f"http://127.0.0.1:{port}/assistant-requests"
        yield fake
