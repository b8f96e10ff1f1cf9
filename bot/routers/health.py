"""/healthz: is every part the customer's answer depends on up?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.rasa import check_url
from bot.state import GatewayState

router = APIRouter()


@router.get("/livez")
async def livez() -> JSONResponse:
    """The gateway process answers (for its supervisor: /healthz also judges Rasa and the database)."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    gateway: GatewayState = request.state.gateway
    settings = gateway.settings
    timeout = settings.health_timeout_seconds
    rasa, actions, database = await asyncio.gather(
        check_url(gateway.http, f"{settings.rasa_url}/", timeout=timeout),
        check_url(gateway.http, f"{settings.action_server_url}/health", timeout=timeout),
        _database(gateway, timeout),
    )
    checks = {"rasa": rasa, "action_server": actions, "database": database}
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _database(gateway: GatewayState, timeout: float) -> str:
    try:
        async with asyncio.timeout(timeout):
            await gateway.service.database_ready()
    except TimeoutError:
        return "timeout"
    except SQLAlchemyError:
        return "down"
    return "ok"
