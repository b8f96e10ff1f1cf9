"""/metrics and the API pages in production: not for the world."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.asyncio

METRICS_TOKEN = "Metrics-test-token_5Rt8Yu2Io7Pa4Sd1Fg9Hj3Kl6"
# What a reverse proxy on the same machine adds: the visitor is not local.
PROXIED = {"X-Forwarded-For": "203.0.113.7"}


async def status(base: str, path: str, headers: dict[str, Any] | None = None) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        return (await http.get(path, headers=headers or {})).status_code


async def test_in_production_metrics_answer_this_machine_but_not_a_proxied_visitor(
    start_gateway: Callable[..., Any],
) -> None:
    gateway = await start_gateway(environment="production")
    assert await status(gateway.url, "/metrics") == 200
    assert await status(gateway.url, "/metrics", PROXIED) == 401
    assert await status(gateway.url, "/metrics", {"X-Real-IP": "203.0.113.7"}) == 401
    assert await status(gateway.url, "/metrics", {"Forwarded": "for=203.0.113.7"}) == 401
    # Without METRICS_TOKEN no bearer token opens it.
    assert await status(gateway.url, "/metrics", {**PROXIED, "Authorization": "Bearer x"}) == 401


async def test_in_production_metrics_need_the_token_from_elsewhere(start_gateway: Callable[..., Any]) -> None:
    gateway = await start_gateway(environment="production", metrics_token=METRICS_TOKEN)
    assert await status(gateway.url, "/metrics", {**PROXIED, "Authorization": f"Bearer {METRICS_TOKEN}"}) == 200
    assert await status(gateway.url, "/metrics", {**PROXIED, "Authorization": f"Bearer {METRICS_TOKEN}x"}) == 401
    assert await status(gateway.url, "/metrics", {**PROXIED, "Authorization": f"Basic {METRICS_TOKEN}"}) == 401
    non_ascii = {**PROXIED, "Authorization": "Bearer é".encode("latin-1")}
    assert await status(gateway.url, "/metrics", non_ascii) == 401


async def test_in_development_metrics_stay_open(start_gateway: Callable[..., Any]) -> None:
    gateway = await start_gateway(environment="development")
    assert await status(gateway.url, "/metrics", PROXIED) == 200


async def test_in_production_no_api_pages_are_published(start_gateway: Callable[..., Any]) -> None:
    production = await start_gateway(environment="production")
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert await status(production.url, path) == 404, path
    development = await start_gateway(environment="development")
    assert await status(development.url, "/openapi.json") == 200
