"""Webhooks from the shop platform: verify the signature, translate, hand on.

Answers: 200 with the outcome (applied, duplicate, stale, erased, ...), 401
for a missing or wrong signature, 400/422 with the reason for a payload this
endpoint cannot read. A refusal of an erased customer's update is a 200: a
4xx would make the platform retry it for hours and then switch the webhook off.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.shop import shopify, signatures, woocommerce
from bot.shop.common import timestamp
from bot.shop.inbox import ShopInbox
from crm.services.shop_sync import IncomingEvent, UpdateRefused

router = APIRouter(tags=["shop"])
# A Shopify order with a few hundred lines is well past the gateway's 64 KB default for other routes.
WEBHOOK_MAX_BODY = 2 * 1024 * 1024
_WOO_PING = re.compile(rb"^webhook_id=\d{1,20}$")


def _inbox(request: Request) -> ShopInbox:
    return request.state.shop  # type: ignore[no-any-return]


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=status)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


@router.post("/webhooks/shopify", max_body_size=WEBHOOK_MAX_BODY)
async def shopify_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    secret = request.state.gateway.settings.shopify_webhook_secret.get_secret_value()
    if not signatures.valid(secret, body, request.headers.get("X-Shopify-Hmac-Sha256")):
        return _refuse(401, "missing or wrong X-Shopify-Hmac-Sha256 signature")
    topic = request.headers.get("X-Shopify-Topic", "")
    if topic not in shopify.TOPICS:
        return _refuse(400, f"X-Shopify-Topic {topic[:60]!r} is not one this endpoint takes")
    event_id = request.headers.get("X-Shopify-Event-Id") or ""
    webhook_id = request.headers.get("X-Shopify-Webhook-Id") or ""
    if not (event_id or webhook_id):
        return _refuse(400, "X-Shopify-Event-Id and X-Shopify-Webhook-Id are both missing")
    payload = _json_object(body)
    if payload is None:
        return _refuse(400, "the body is not a JSON object")
    try:
        triggered = timestamp(request.headers.get("X-Shopify-Triggered-At"), field="X-Shopify-Triggered-At")
        update = shopify.translate(topic, payload, triggered_at=triggered)
    except UpdateRefused as exc:
        return _refuse(422, str(exc))
    # One event reaches each subscription with the same event id: that is the duplicate to drop.
    key = f"event:{event_id}" if event_id else f"webhook:{webhook_id}"
    record = {"headers": {"topic": topic, "event_id": event_id, "webhook_id": webhook_id}, "body": payload}
    try:
        result = await _inbox(request).receive(IncomingEvent("shopify", key, topic, record), update)
    except UpdateRefused as exc:
        return _refuse(422, str(exc))
    return JSONResponse({"outcome": result.outcome})


@router.post("/webhooks/woocommerce", max_body_size=WEBHOOK_MAX_BODY)
async def woocommerce_webhook(request: Request) -> JSONResponse:
    body = await request.body()
    signature = request.headers.get("X-WC-Webhook-Signature")
    if signature is None and _WOO_PING.match(body.strip()):
        # WooCommerce's ping when the webhook is saved: unsigned, and it changes nothing here.
        return JSONResponse({"outcome": "ping"})
    secret = request.state.gateway.settings.woocommerce_webhook_secret.get_secret_value()
    if not signatures.valid(secret, body, signature):
        return _refuse(401, "missing or wrong X-WC-Webhook-Signature signature")
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    if topic not in woocommerce.TOPICS:
        return _refuse(400, f"X-WC-Webhook-Topic {topic[:60]!r} is not one this endpoint takes")
    payload = _json_object(body)
    if payload is None:
        return _refuse(400, "the body is not a JSON object")
    try:
        key = woocommerce.event_key(topic, payload)
        update = woocommerce.translate(topic, payload)
        record = {"headers": {"topic": topic, "delivery_id": request.headers.get("X-WC-Webhook-Delivery-ID")},
                  "body": payload}
        result = await _inbox(request).receive(IncomingEvent("woocommerce", key, topic, record), update)
    except UpdateRefused as exc:
        return _refuse(422, str(exc))
    return JSONResponse({"outcome": result.outcome})
