"""/metrics in Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from bot.metrics import CONTENT_TYPE
from bot.state import GatewayState

router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    gateway: GatewayState = request.state.gateway
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)
