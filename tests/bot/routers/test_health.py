"""/healthz: 200 when Rasa, the action server and the database answer; 503 naming what does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.asyncio


async def get(gateway: Gateway, path: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(gateway.url + path, **kw)


async def test_healthz_is_200_when_everything_is_up(gateway: Gateway) -> None:
    response = await get(gateway, "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"rasa": "ok", "action_server": "ok", "database": "ok"},
    }


@pytest.mark.parametrize(("part", "check"), [("rasa_up", "rasa"), ("actions_up", "action_server")])
async def test_healthz_is_503_when_rasa_or_the_action_server_is_down(
    gateway: Gateway, fake_rasa: FakeRasa, part: str, check: str
) -> None:
    setattr(fake_rasa, part, False)
    response = await get(gateway, "/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"][check] == "down"
    assert [k for k, v in body["checks"].items() if v != "ok"] == [check]


async def test_healthz_is_503_when_the_database_has_no_schema(
    start_gateway: Callable[..., Any], tmp_path: Any
) -> None:
    gateway = await start_gateway(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    response = await get(gateway, "/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "down"


async def test_healthz_reports_a_hanging_dependency_as_a_timeout(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    import asyncio

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    original = fake_rasa.handler

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return await hang(request)
        return await original(request)

    fake_rasa.handler = handler  # type: ignore[method-assign]
    gateway = await start_gateway(health_timeout_seconds=0.3)
    response = await get(gateway, "/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["action_server"] == "timeout"
