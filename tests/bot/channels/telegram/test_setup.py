"""bot/channels/telegram/setup.py: the channel started from settings; the webhook registered
with its secret; a token Telegram refuses turns Telegram off, not the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.bot.telegram_support import PUBLIC_WEBHOOK, WEBHOOK_SECRET, post
from tests.fakes.gateway import Gateway
from tests.fakes.telegram import FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


async def test_start_up_reads_the_bot_and_registers_the_webhook_with_its_secret(
    tg: Gateway, fake: FakeTelegram
) -> None:
    assert fake.of("getMe")
    (registration,) = fake.of("setWebhook")
    assert registration["url"] == PUBLIC_WEBHOOK
    assert registration["secret_token"] == WEBHOOK_SECRET
    assert set(registration["allowed_updates"]) == {"message", "edited_message", "callback_query"}


async def test_the_webhook_is_registered_at_the_public_address_by_default(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram
) -> None:
    await start_tg_gateway(telegram_webhook_url="", public_base_url="https://shop.example")
    (registration,) = fake.of("setWebhook")
    assert registration["url"] == "https://shop.example/webhooks/telegram"


async def test_a_token_telegram_refuses_leaves_the_rest_of_the_gateway_running(
    start_tg_gateway: Callable[..., Any], caplog: pytest.LogCaptureFixture, ada: TelegramUser
) -> None:
    bad_token = "999:not-the-token"
    gateway = await start_tg_gateway(telegram_bot_token=bad_token)
    assert (await post(gateway, ada.text("hello"))).status_code == 404
    async with httpx.AsyncClient() as http:
        assert (await http.get(gateway.url + "/metrics")).status_code == 200
    assert any("TELEGRAM_BOT_TOKEN" in r.getMessage() for r in caplog.records)
    assert not any(bad_token in r.getMessage() for r in caplog.records)
