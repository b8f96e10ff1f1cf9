"""bot/deps.py: the typed dependencies hand out what the lifespan built once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from bot.deps import Database, Inbox, Service, Settings, Staff, Viewer

pytestmark = pytest.mark.asyncio


async def test_one_sessionmaker_for_the_service_the_console_and_the_shop_inbox(
    start_gateway: Callable[..., Any],
) -> None:
    gateway = await start_gateway()
    probe = APIRouter()

    @probe.get("/__deps_probe")
    async def _probe(db: Database, staff: Staff, inbox: Inbox, service: Service, settings: Settings) -> dict[str, bool]:
        return {
            "staff": staff.sessionmaker is db,
            "inbox": inbox.sessionmaker is db,
            "service": service is staff.service is inbox.service,
            "settings": settings is staff.settings,
        }

    gateway.app.include_router(probe)
    async with httpx.AsyncClient() as http:
        answer = await http.get(gateway.url + "/__deps_probe")
    assert answer.json() == {"staff": True, "inbox": True, "service": True, "settings": True}


async def test_a_guard_refuses_once_for_every_route_that_declares_it(start_gateway: Callable[..., Any]) -> None:
    gateway = await start_gateway()
    probe = APIRouter()

    @probe.get("/staff/__viewer_probe")
    async def _probe(principal: Viewer) -> dict[str, int]:
        return {"id": principal.id}

    gateway.app.include_router(probe)
    async with httpx.AsyncClient() as http:
        answer = await http.get(gateway.url + "/staff/__viewer_probe")
    # Signed out: the handler installed by bot/staff/pages.py answers 401, with the staff headers.
    assert answer.status_code == 401 and answer.content == b""
    assert answer.headers["cache-control"] == "no-store"
