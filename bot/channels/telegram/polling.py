"""Polling mode: python-telegram-bot's Updater (getUpdates long polling) feeding the channel."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Updater

from bot import replies

if TYPE_CHECKING:
    from bot.channels.telegram.channel import TelegramChannel

logger = logging.getLogger("bot.channels.telegram")

# What the bot asks Telegram for; everything else (channel posts, member changes) is not a customer.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


class Poller:
    """python-telegram-bot's Updater (getUpdates long polling) feeding the channel, one update at a time."""

    def __init__(self, channel: TelegramChannel, *, poll_timeout: float) -> None:
        self._channel = channel
        self._updater = Updater(channel.bot, asyncio.Queue())
        self._poll_timeout = poll_timeout
        self._task: asyncio.Task[None] | None = None
        self._polling = False

    async def start(self) -> None:
        # Bootstrapping retries until Telegram answers, so it runs in the background:
        # a Telegram outage must not keep the widget from starting.
        self._task = asyncio.create_task(self._run(), name="telegram-polling")
        self._task.add_done_callback(_report_polling_end)

    async def _run(self) -> None:
        await self._updater.initialize()
        await self._updater.start_polling(
            timeout=self._poll_timeout,
            bootstrap_retries=-1,
            allowed_updates=list(ALLOWED_UPDATES),
            error_callback=_polling_error,
        )
        self._polling = True
        logger.info("Telegram polling started")
        queue = self._updater.update_queue
        while True:
            update = await queue.get()
            try:
                if isinstance(update, Update):
                    await self._take(update)
            finally:
                queue.task_done()

    async def _take(self, update: Update) -> None:
        # Polled updates are already confirmed to Telegram: if the database is
        # down, keep trying for a while rather than drop the message.
        for delay in (0.5, 1.0, 2.0, 4.0):
            if await self._channel.process(update):
                return
            await asyncio.sleep(delay)
        if not await self._channel.process(update):
            message = update.effective_message
            if message is not None:
                await self._channel.say(message.chat_id, replies.UNAVAILABLE)

    async def stop(self, timeout: float) -> None:
        if self._task is None:
            return
        if self._polling:
            await self._updater.stop()  # ends the long poll and confirms what was fetched
            try:
                # What was fetched is confirmed to Telegram: take it in before stopping.
                await asyncio.wait_for(self._updater.update_queue.join(), timeout)
            except TimeoutError:
                logger.warning("Telegram updates still queued at shutdown were dropped")
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        # Not Updater.shutdown(): it shuts the bot down, and replies still in progress need it.
        logger.info("Telegram polling stopped")


def _report_polling_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Telegram polling stopped by an error", exc_info=task.exception())


def _polling_error(exc: TelegramError) -> None:
    # The library's default logs the whole exception; the type is enough and carries no token.
    logger.warning("Telegram polling error: %s", type(exc).__name__)
