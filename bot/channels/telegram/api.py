"""One Bot API call, as the channel makes them all: flood limits waited out, blips retried, never raising."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram import wire

logger = logging.getLogger("bot.channels.telegram")

T = TypeVar("T")
_SEND_ATTEMPTS = 3


async def call(method: Callable[..., Awaitable[T]], /, **kwargs: Any) -> tuple[T | None, str | None]:
    """The call's result, and why it failed (refused, unreachable) or None.

    A message is already in the transcript when it is sent, so a failure here
    loses nothing staff can't see; `send` decides whether someone must hear of it.
    """
    failure = "unreachable"
    for attempt in range(1, _SEND_ATTEMPTS + 1):
        try:
            return await method(**kwargs), None
        except RetryAfter as exc:
            wait = wire.retry_seconds(exc)
            logger.warning("Telegram asked to slow down", extra={"retry_after": wait})
            await asyncio.sleep(wait)
        except (Forbidden, BadRequest, InvalidToken) as exc:
            # Blocked by the user, chat gone, or a request Telegram will never accept.
            logger.warning("Telegram refused a message: %s", type(exc).__name__)
            return None, "refused"
        except NetworkError as exc:  # TimedOut is one too
            logger.warning("Telegram unreachable (attempt %d): %s", attempt, type(exc).__name__)
            await asyncio.sleep(0.5 * attempt)
        except TelegramError as exc:
            logger.warning("Telegram call failed: %s", type(exc).__name__)
            return None, "refused"
    return None, failure
