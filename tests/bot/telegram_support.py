"""Helpers of the Telegram gateway tests (tests/bot/routers/test_telegram.py and
tests/bot/channels/telegram/): the gateway's Telegram secrets, a webhook call, what the
database holds for a chat, waiting until nothing more happens, a reply with buttons,
a signed deep-link request. The fixtures (`fake_tg`, `start_tg_gateway`, `tg`, `fake`,
`ada`) are in tests/bot/conftest.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import telegram
from bot.identity import sign_customer_identity
from crm.models import ChannelIdentity, Conversation
from tests.fakes.gateway import IDENTITY_SECRET, Gateway
from tests.fakes.rasa import FakeRasa, RasaCall
from tests.fakes.telegram import FakeTelegram

WEBHOOK_SECRET = "tg-webhook-secret_0123456789"
LINK_SECRET = "tg-link-secret-0123456789abcdef"
PUBLIC_WEBHOOK = "https://shop.example/webhooks/telegram"


async def post(
    gateway: Gateway, update: Any, *, secret: str | None = WEBHOOK_SECRET, raw: bytes | None = None
) -> httpx.Response:
    headers = {} if secret is None else {telegram.SECRET_HEADER: secret}
    async with httpx.AsyncClient() as http:
        if raw is not None:
            return await http.post(gateway.url + "/webhooks/telegram", content=raw, headers=headers)
        return await http.post(gateway.url + "/webhooks/telegram", json=update, headers=headers)


def conversation_of(db: sessionmaker[Session], chat_id: int) -> Conversation | None:
    with db() as session:
        return session.scalars(
            select(Conversation)
            .where(Conversation.channel == "telegram", Conversation.address == str(chat_id))
            .order_by(Conversation.created_at.desc())
        ).first()


def telegram_identity(db: sessionmaker[Session], user_id: int) -> ChannelIdentity | None:
    with db() as session:
        return session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == "telegram", ChannelIdentity.external_user_id == str(user_id)
            )
        ).first()


async def settle(fake_rasa: FakeRasa, fake: FakeTelegram, *, seconds: float = 0.3) -> None:
    """Wait until nothing new happens for a moment (for asserting that nothing happens)."""
    before = (len(fake_rasa.calls), fake.count())
    while True:
        await asyncio.sleep(seconds)
        now = (len(fake_rasa.calls), fake.count())
        if now == before:
            return
        before = now


def with_buttons(call: RasaCall) -> list[dict[str, Any]]:
    if call.message.startswith("/"):
        return [{"recipient_id": call.sender, "text": f"you chose {call.message}"}]
    return [
        {
            "recipient_id": call.sender,
            "text": "How would you rate us?",
            "buttons": [
                {"title": "1 ⭐", "payload": '/feedback_rating{"rating": 1}'},
                {"title": "5 ⭐", "payload": '/feedback_rating{"rating": 5, "comment": "' + "x" * 80 + '"}'},
            ],
        }
    ]


async def link_for(
    gateway: Gateway, customer_id: str, signature: str | None = None, *, expires: int | None = None
) -> httpx.Response:
    expires = expires if expires is not None else int(time.time()) + 600
    if signature is None:
        signature = sign_customer_identity(customer_id, expires, IDENTITY_SECRET)
    async with httpx.AsyncClient() as http:
        return await http.get(
            gateway.url + "/telegram/link",
            params={"customer_id": customer_id, "expires": str(expires), "signature": signature},
        )
