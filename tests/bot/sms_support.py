"""Helpers of the SMS gateway tests (tests/bot/routers/test_sms*.py, tests/bot/channels/test_sms_*.py):
the gateway's SMS settings, a signed inbound text, waiting for turns, what the database holds for a number."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Conversation, Message
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, SHOP_NUMBER, FakeTwilioApi, Phone

STRANGER = "+447700900555"
KNOWN = "+447700900123"  # the `customer` fixture's phone (Ada, C001)
PATH = "/webhooks/twilio/sms"


def sms_settings(twilio: FakeTwilioApi) -> dict[str, Any]:
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": SHOP_NUMBER,
        "public_base_url": PUBLIC_BASE_URL,
        "twilio_api_base_url": twilio.url,
    }


async def deliver(
    gateway: Gateway,
    phone: Phone,
    body: str,
    *,
    sid: str | None = None,
    signature: str | None = "sign",
    form: dict[str, str] | None = None,
    **extra: str,
) -> httpx.Response:
    """POST what Twilio would post for one inbound text (signed unless told otherwise)."""
    form = form or phone.form(body, sid=sid, **extra)
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = phone.sign(form)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with httpx.AsyncClient() as http:
        return await http.post(gateway.url + PATH, data=form, headers=headers)


async def settle(fake_rasa: FakeRasa, seconds: float = 0.3) -> None:
    """Let background turns finish (Rasa answers at once unless delayed)."""
    deadline = time.monotonic() + 5
    while any(fake_rasa.active.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(seconds)


def conversations_at(db: sessionmaker[Session], number: str) -> list[Conversation]:
    with db() as session:
        return list(
            session.scalars(
                select(Conversation)
                .where(Conversation.channel == "sms", Conversation.address == number)
                .order_by(Conversation.created_at)
            )
        )


async def assert_nothing_processed(
    db: sessionmaker[Session], fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    await asyncio.sleep(0.2)
    with db() as session:
        assert session.scalars(select(Conversation)).all() == []
        assert session.scalars(select(Message)).all() == []
    assert fake_rasa.calls == [] and twilio.requests == []
