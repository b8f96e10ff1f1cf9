"""Telegram's HTTP side: the webhook Telegram calls, and deep links for website customers.

`POST /webhooks/telegram` — Telegram's webhook. The `X-Telegram-Bot-Api-Secret-Token`
header must equal TELEGRAM_WEBHOOK_SECRET (compared in constant time); missing or
wrong is a 403 and nothing is read. 200 once the update is safely taken in; 503
when the database could not store a customer's message, so Telegram delivers it
again later.

`GET /telegram/link?customer_id=<id>&expires=<unix>&signature=<hex>` — for the shop's
website: the same signed identity the widget uses (`hex(HMAC-SHA256(WIDGET_IDENTITY_SECRET,
"<customer_id>:<expires>"))`, computed by the shop's backend), under the same rules
(expired, too long-lived, or without an expiry unless the shop opted in: 403). Answers
`{"url": "https://t.me/<bot>?start=<token>", "expires_at": "<ISO 8601>"}`: a link
that, tapped within TELEGRAM_LINK_TTL_SECONDS, links the customer's Telegram to
their account. 403 for a bad signature, 404 for an unknown customer or when
Telegram is off, 503 when deep links are not configured (TELEGRAM_LINK_SECRET).
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bot import identity
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.state import GatewayState

logger = logging.getLogger(__name__)

router = APIRouter()

_NO_STORE = {"Cache-Control": "no-store"}


def _channel(request: Request) -> TelegramChannel | None:
    return getattr(request.state, "telegram", None)


@router.post(WEBHOOK_PATH)
async def webhook(request: Request) -> Response:
    channel = _channel(request)
    if channel is None or channel.polling:
        return JSONResponse({"error": "Telegram webhooks are not enabled"}, status_code=404)
    if not channel.secret_ok(request.headers.get(SECRET_HEADER)):
        gateway: GatewayState = request.state.gateway
        gateway.metrics.rejected.labels("telegram", "bad_secret").inc()
        logger.warning("Telegram webhook call without the right secret token refused")
        return JSONResponse({"error": "forbidden"}, status_code=403)
    try:
        data = json.loads(await request.body())
    except ValueError:
        data = None
    update = channel.parse(data)
    if update is None:
        return JSONResponse({"error": "not a Telegram update"}, status_code=400)
    if not await channel.process(update):
        return JSONResponse({"error": "not stored; deliver again"}, status_code=503)
    return JSONResponse({"ok": True})


_REFUSALS = {
    "bad_signature": "bad signature",
    "expired": "this signed identity has expired; sign a fresh one",
    "too_long_lived": "the expiry is further ahead than WIDGET_IDENTITY_MAX_TTL_SECONDS allows",
    "unexpiring": "a signature without an expiry is not accepted; sign customer_id:expires",
}


@router.get("/telegram/link")
async def deep_link(request: Request, customer_id: str = "", expires: str = "", signature: str = "") -> Response:
    channel = _channel(request)
    if channel is None:
        return JSONResponse({"error": "Telegram is not enabled"}, status_code=404, headers=_NO_STORE)
    gateway: GatewayState = request.state.gateway
    verdict = identity.IdentityPolicy.from_settings(gateway.settings).check(customer_id, expires or None, signature)
    if verdict != "ok":
        gateway.metrics.rejected.labels("telegram", "bad_signature").inc()
        logger.warning(
            "Telegram link request with a refused signature",
            extra={"claimed_customer": identity.fingerprint(customer_id), "reason": verdict},
        )
        return JSONResponse({"error": _REFUSALS[verdict]}, status_code=403, headers=_NO_STORE)
    if not await gateway.service.customer_exists(external_id=customer_id):
        return JSONResponse({"error": "unknown customer"}, status_code=404, headers=_NO_STORE)
    try:
        link = await channel.deep_link(customer_id)
    except ValueError:
        return JSONResponse(
            {"error": "this customer id is too long for a Telegram link"}, status_code=422, headers=_NO_STORE
        )
    if link is None:
        return JSONResponse(
            {"error": "Telegram links are not configured"}, status_code=503, headers=_NO_STORE
        )
    return JSONResponse({"url": link.url, "expires_at": link.expires_at.isoformat()}, headers=_NO_STORE)
