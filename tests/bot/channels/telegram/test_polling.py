"""bot/channels/telegram/polling.py: updates taken from getUpdates, once each, and still stored
when they arrive just before shutdown."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.channels import telegram
from crm.models import Sender
from tests.bot.telegram_support import conversation_of, settle
from tests.fakes.gateway import gateway_settings
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import TOKEN, FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


async def test_polling_mode_takes_updates_from_get_updates_and_stops_cleanly(
    gateway_db_url: str,
    fake_tg: tuple[FakeTelegram, str],
    fake_rasa: FakeRasa,
    ada: TelegramUser,
) -> None:
    fake, url = fake_tg
    settings = gateway_settings(
        gateway_db_url, telegram_bot_token=TOKEN, telegram_api_base_url=url, telegram_mode="polling"
    )
    app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
    async with app.router.lifespan_context(app) as state:
        assert state["telegram"].polling
        await fake.wait_for("deleteWebhook")  # polling and a webhook exclude each other
        await fake.wait_for("getUpdates")
        first = ada.text("polled hello")
        fake.push_update(first)
        fake.push_update(first)  # delivered twice
        fake.push_update(ada.sticker())
        await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: polled hello")
        await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.NON_TEXT)
        await settle(fake_rasa, fake, seconds=0.5)
        assert [c.message for c in fake_rasa.calls] == ["polled hello"]
        # The sticker's refusal needs no turn, so it may overtake the echo: count, not order.
        assert sorted(fake.sent_texts(ada.chat_id)) == sorted(["echo: polled hello", telegram.NON_TEXT])
        # What was taken is confirmed: the next poll asks past it.
        await fake.wait_for("getUpdates", after=fake.count())
        assert fake.pending_updates() == []
        # A long poll is waiting right now; shutdown must not wait it out.
        closing = asyncio.get_running_loop().time()
    assert asyncio.get_running_loop().time() - closing < 1.5
    polls = len(fake.of("getUpdates"))
    await asyncio.sleep(0.5)
    assert len(fake.of("getUpdates")) == polls  # stopped for good


async def test_updates_polled_before_shutdown_are_still_stored(
    gateway_db_url: str,
    fake_tg: tuple[FakeTelegram, str],
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
) -> None:
    fake, url = fake_tg
    fake_rasa.delay = 0.5
    settings = gateway_settings(
        gateway_db_url, telegram_bot_token=TOKEN, telegram_api_base_url=url, telegram_mode="polling"
    )
    app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
    async with app.router.lifespan_context(app):
        await fake.wait_for("getUpdates")
        fake.push_update(ada.text("last words"))
        await fake.wait_for("getUpdates", lambda p: int(p.get("offset") or 0) > 0)
    # Stored and answered before the gateway let go of Telegram.
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.sender for m in messages_of(db, conversation.id)] == [Sender.customer, Sender.bot]
    assert "echo: last words" in fake.sent_texts(ada.chat_id)
