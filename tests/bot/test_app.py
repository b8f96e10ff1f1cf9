"""The app as a whole: metrics, limits on HTTP bodies, static files, request ids, demo switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


async def get(gateway: Gateway, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(gateway.url + path, **kw)


async def test_metrics_are_prometheus_text_with_the_gateway_families(gateway: Gateway) -> None:
    response = await get(gateway, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert {
        "gateway_messages",
        "gateway_rasa_latency_seconds",
        "gateway_failures",
        "gateway_handoffs",
        "gateway_duplicates_dropped",
        "gateway_rate_limited",
        "gateway_active_websockets",
    } <= families


async def test_two_apps_in_one_process_keep_their_own_metrics(start_gateway: Callable[..., Any]) -> None:
    first, second = await start_gateway(), await start_gateway()
    async with first.connect() as tab:
        await tab.recv()
        assert await first.metric("gateway_active_websockets") == 1
        assert await second.metric("gateway_active_websockets") == 0


async def test_request_bodies_over_the_cap_get_413(gateway: Gateway) -> None:
    async with httpx.AsyncClient() as http:
        big = await http.post(gateway.url + "/healthz", content=b"x" * (64 * 1024 + 1))
        small = await http.post(gateway.url + "/healthz", content=b"x" * 100)
    assert big.status_code == 413
    assert small.status_code == 405  # the cap, not the route, refused the big one


async def test_the_widget_script_is_served_from_static(gateway: Gateway) -> None:
    response = await get(gateway, "/static/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


async def test_every_response_carries_a_request_id(gateway: Gateway) -> None:
    mine = await get(gateway, "/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert mine.headers["x-request-id"] == "abcdef0123456789"
    made = await get(gateway, "/healthz", headers={"X-Request-ID": "bad id!"})
    assert len(made.headers["x-request-id"]) == 32


async def test_the_demo_routes_exist_only_in_demo_mode(
    start_gateway: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.routers import demo

    probe = APIRouter()

    @probe.get("/__demo_probe")
    async def _probe() -> dict[str, bool]:
        return {"demo": True}

    monkeypatch.setattr(demo, "router", probe)
    off = await start_gateway()
    on = await start_gateway(demo_mode=True)
    assert (await get(off, "/__demo_probe")).status_code == 404
    assert (await get(on, "/__demo_probe")).json() == {"demo": True}


async def test_api_docs_are_not_published_in_production(start_gateway: Callable[..., Any]) -> None:
    production = await start_gateway(environment="production")
    assert (await get(production, "/docs")).status_code == 404
    assert (await get(production, "/openapi.json")).status_code == 404
