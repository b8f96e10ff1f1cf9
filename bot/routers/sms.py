"""Twilio's inbound-SMS webhook: check the signature, hand the form to the SMS channel.

Configure the shop's Twilio number with "A message comes in" → Webhook,
HTTP POST, `PUBLIC_BASE_URL` + `/webhooks/twilio/sms`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.datastructures import ImmutableMultiDict

from bot.channels.sms import SmsChannel

WEBHOOK_PATH = "/webhooks/twilio/sms"
_FORM = "application/x-www-form-urlencoded"

router = APIRouter()


@router.post(WEBHOOK_PATH)
async def inbound_sms(request: Request) -> Response:
    sms: SmsChannel = request.state.sms
    body = await request.body()
    # Every field, repeated ones included: the signature covers them all.
    params = ImmutableMultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    signature = request.headers.get("X-Twilio-Signature")
    if not sms.signed(query=request.url.query, params=params, signature=signature):
        sms.refused("bad_signature")
        return Response(status_code=403)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
        sms.refused("bad_request")
        return Response(status_code=415)
    twiml = await sms.receive(params)
    return Response(twiml, media_type="text/xml")
