"""/metrics in Prometheus text format.

In production the numbers (traffic, handoffs, failures) are for the shop, not
the world: a loopback client that did not come through a proxy may read them,
and anyone else only with METRICS_TOKEN as a bearer token.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from bot.metrics import CONTENT_TYPE
from bot.state import GatewayState

router = APIRouter()

_LOOPBACK = frozenset({"127.0.0.1", "::1"})
# A proxy on the same machine makes every visitor look like 127.0.0.1.
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    gateway: GatewayState = request.state.gateway
    if gateway.settings.environment == "production" and not _allowed(request, gateway):
        return Response(
            "Metrics need METRICS_TOKEN as a bearer token, or a request from this machine.\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
            media_type="text/plain",
        )
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)


def _allowed(request: Request, gateway: GatewayState) -> bool:
    token = gateway.settings.metrics_token.get_secret_value()
    scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(supplied.encode(), token.encode()):
        return True
    client = request.client.host if request.client else ""
    return client in _LOOPBACK and not any(name in request.headers for name in _PROXY_HEADERS)
