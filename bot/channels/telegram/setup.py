"""Starting the Telegram channel from its part of the gateway's settings, in webhook or polling mode."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.channels.telegram.channel import WEBHOOK_PATH, Limiter, TelegramChannel
from bot.channels.telegram.polling import ALLOWED_UPDATES

if TYPE_CHECKING:
    from bot.intake.door import Intake
    from bot.metrics import Metrics
    from bot.settings_parts import TelegramSettings

logger = logging.getLogger("bot.channels.telegram")


async def open_channel(
    part: TelegramSettings,
    *,
    intake: Intake,
    metrics: Metrics,
    chat_limiter: Limiter,
    stack: AsyncExitStack,
    drain_seconds: float,
) -> TelegramChannel | None:
    """The Telegram channel, started in the configured mode; None when Telegram is not configured.

    A Telegram outage at start-up does not stop the gateway: sending retries per
    message and polling keeps trying to connect.
    """
    if not part.enabled:
        return None
    root = part.api_base_url
    bot = Bot(
        part.bot_token.get_secret_value().strip(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
    )
    try:
        await bot.initialize()
    except InvalidToken:
        # The library's message carries the token; say only what is wrong.
        logger.error("Telegram refused TELEGRAM_BOT_TOKEN; the Telegram channel is off")
        await bot.shutdown()
        return None
    except TelegramError as exc:
        logger.warning("Telegram not reachable at start-up: %s", type(exc).__name__)
    channel = TelegramChannel(
        bot=bot,
        intake=intake,
        metrics=metrics,
        webhook_secret=part.webhook_secret.get_secret_value(),
        link_secret=part.link_secret.get_secret_value(),
        link_ttl_seconds=part.link_ttl_seconds,
        bot_username=part.bot_username or (bot.username if _initialized(bot) else ""),
        max_message_chars=part.max_message_chars,
        chat_limiter=chat_limiter,
        drain_seconds=drain_seconds,
    )
    intake.service.register_channel(channel)
    stack.push_async_callback(channel.close)
    if part.mode == "polling":
        await channel.start_polling(poll_timeout=10)
    else:
        await _register_webhook(part, bot)
    logger.info("Telegram channel started", extra={"mode": part.mode})
    return channel


async def _register_webhook(part: TelegramSettings, bot: Bot) -> None:
    secret = part.webhook_secret.get_secret_value()
    if not secret:
        logger.warning("TELEGRAM_WEBHOOK_SECRET is not set: every Telegram webhook call will be refused")
        return
    url = part.webhook_url or (
        part.public_base_url + WEBHOOK_PATH if part.public_base_url else None
    )
    if url is None:
        return  # registered by hand (or by another gateway of this shop)
    try:
        await bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
    except TelegramError as exc:
        logger.error("could not register the Telegram webhook: %s", type(exc).__name__)


def _initialized(bot: Bot) -> bool:
    try:
        bot.bot  # noqa: B018 - raises until getMe has answered
    except RuntimeError:
        return False
    return True
