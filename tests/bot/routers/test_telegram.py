"""bot/routers/telegram.py: Telegram's webhook (the secret-token header, the body, off when
Telegram is off or polling) and the deep-link endpoint for the shop's website, through a real
uvicorn with the real python-telegram-bot client against a local fake Bot API. What the channel
does with an update is tested in tests/bot/channels/telegram/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import telegram
from bot.identity import sign_customer_id
from crm.models import Customer
from tests.bot.telegram_support import (
    WEBHOOK_SECRET,
    conversation_of,
    link_for,
    post,
    settle,
    telegram_identity,
)
from tests.fakes.gateway import IDENTITY_SECRET, Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


# -- the secret-token header and the body ----------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x", WEBHOOK_SECRET[:-1]])
async def test_a_webhook_without_the_right_secret_is_refused_and_nothing_is_processed(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    secret: str | None,
) -> None:
    calls_before = fake.count()
    response = await post(tg, ada.text("hello"), secret=secret)
    assert response.status_code == 403
    await settle(fake_rasa, fake)
    assert fake_rasa.calls == []
    assert fake.count() == calls_before
    assert conversation_of(db, ada.chat_id) is None
    assert (
        await tg.metric("gateway_rejected_messages_total", {"channel": "telegram", "reason": "bad_secret"})
        >= 1
    )


async def test_without_a_configured_secret_every_webhook_is_refused(
    start_tg_gateway: Callable[..., Any], fake_rasa: FakeRasa, ada: TelegramUser, fake: FakeTelegram
) -> None:
    gateway = await start_tg_gateway(telegram_webhook_secret="")
    for secret in (None, "", "anything"):
        assert (await post(gateway, ada.text("hello"), secret=secret)).status_code == 403
    assert fake.of("setWebhook") == []  # never registered without a secret to check
    assert fake_rasa.calls == []


async def test_a_body_that_is_not_an_update_is_a_400(tg: Gateway, fake_rasa: FakeRasa) -> None:
    assert (await post(tg, None, raw=b"not json")).status_code == 400
    assert (await post(tg, [1, 2])).status_code == 400
    assert (await post(tg, {"message": {"text": "no update id"}})).status_code == 400
    assert fake_rasa.calls == []


async def test_with_no_bot_token_telegram_is_off(
    start_gateway: Callable[..., Any], fake: FakeTelegram, ada: TelegramUser
) -> None:
    gateway = await start_gateway()
    assert (await post(gateway, ada.text("hello"))).status_code == 404
    assert fake.count() == 0


async def test_in_polling_mode_the_webhook_is_closed(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram, ada: TelegramUser
) -> None:
    gateway = await start_tg_gateway(telegram_mode="polling")
    await fake.wait_for("getUpdates")
    assert (await post(gateway, ada.text("via webhook"))).status_code == 404
    assert fake.of("setWebhook") == []


async def test_the_webhook_answers_once_the_message_is_stored_not_after_the_turn(
    tg: Gateway, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser, fake: FakeTelegram
) -> None:
    fake_rasa.delay = 1.5
    started = asyncio.get_running_loop().time()
    assert (await post(tg, ada.text("slow one"))).status_code == 200
    assert asyncio.get_running_loop().time() - started < 1.0
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.text for m in messages_of(db, conversation.id)] == ["slow one"]
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: slow one", timeout=5)


# -- deep links from the website -------------------------------------------------------------


async def test_a_deep_link_from_the_website_links_the_telegram_account(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    response = await link_for(tg, "C001")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    url = urlparse(body["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "t.me", f"/{fake.username}")
    (token,) = parse_qs(url.query)["start"]
    assert len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)
    assert "C001" not in token
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(timezone.utc) <= timedelta(minutes=10)
    # Tapping the link opens the chat with "/start <token>".
    assert (await post(tg, ada.text(f"/start {token}"))).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINKED)
    identity = telegram_identity(db, ada.user_id)
    assert identity is not None and identity.customer_id == customer.id
    await post(tg, ada.text("where is my parcel"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: where is my parcel")
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"


async def test_the_link_endpoint_needs_the_shops_signature_and_a_real_customer(
    tg: Gateway, customer: Customer
) -> None:
    assert (await link_for(tg, "C001", signature="0" * 64)).status_code == 403
    assert (await link_for(tg, "C001", signature="")).status_code == 403
    assert (await link_for(tg, "C404")).status_code == 404
    assert (await link_for(tg, "C001")).status_code == 200


async def test_without_a_link_secret_deep_links_are_off(
    start_tg_gateway: Callable[..., Any],
    fake: FakeTelegram,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    gateway = await start_tg_gateway(telegram_link_secret="")
    assert (await link_for(gateway, "C001")).status_code == 503
    forged = telegram.link_token(
        "C001", secret="guess", expires_at=datetime.now(timezone.utc) + timedelta(minutes=5)
    )
    await post(gateway, ada.text(f"/start {forged}"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINK_INVALID)
    assert telegram_identity(db, ada.user_id) is None


async def test_the_link_endpoint_applies_the_widgets_expiry_rules(
    tg: Gateway, customer: Customer, start_tg_gateway: Callable[..., Any]
) -> None:
    now = int(time.time())
    expired = await link_for(tg, "C001", expires=now - 5)
    assert expired.status_code == 403 and "expired" in expired.json()["error"]
    too_long = await link_for(tg, "C001", expires=now + 40 * 86_400)
    assert too_long.status_code == 403 and "WIDGET_IDENTITY_MAX_TTL_SECONDS" in too_long.json()["error"]
    legacy = sign_customer_id("C001", IDENTITY_SECRET)
    async with httpx.AsyncClient() as http:
        old_form = await http.get(tg.url + "/telegram/link", params={"customer_id": "C001", "signature": legacy})
        assert old_form.status_code == 403 and "expiry" in old_form.json()["error"]
        # Only a shop that opts in keeps the old form working.
        opted_in = await start_tg_gateway(widget_identity_allow_unexpiring=True)
        assert (
            await http.get(opted_in.url + "/telegram/link", params={"customer_id": "C001", "signature": legacy})
        ).status_code == 200
