"""Telegram's wire format: reading updates, cutting text to its limit, keyboards, locales."""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import MessageLimit
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.channels import text as _text
from bot.core.messages import Button
from bot.channels.telegram.texts import SHARE_PHONE_BUTTON

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096, counted in UTF-16 code units
_LOCALE = re.compile(r"^([a-zA-Z]{2})(?:[-_]([a-zA-Z]{2}))?$")
_MAX_RETRY_AFTER_SECONDS = 30.0


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram-sized pieces (`bot.channels.text.split_text`, counted in UTF-16 units as Telegram counts)."""
    return _text.split_text(text, limit, units=_text.utf16_units)


def locale(language_code: str | None) -> str:
    match = _LOCALE.match(language_code or "")
    if match is None:
        return "en"
    language, region = match.group(1).lower(), match.group(2)
    return f"{language}-{region.upper()}" if region else language


def international(phone_number: str) -> str:
    """Telegram sends international numbers, usually without the "+": put it back."""
    digits = phone_number.strip()
    if digits and not digits.startswith(("+", "0")):
        digits = "+" + digits
    return digits


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # Read as either an int or a timedelta, so the coming change of type is harmless.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS)


def parse(data: Any, bot: Bot) -> Update | None:
    """An update from a webhook body; None for anything that is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return None
    # python-telegram-bot does not check types: a "text" that is an object would
    # reach the message path as one (found by fuzzing). Refuse it here instead.
    if not _well_typed(data):
        return None
    try:
        update = Update.de_json(data, bot)
    # OverflowError / OSError: a timestamp no clock can hold ("date": -2**63), found by fuzzing.
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError):
        return None
    # Chats and users are numbered ("id" is a string only for callback queries): a chat
    # that is an object would be answered at an address Telegram cannot have (found by fuzzing).
    for party in (update.effective_chat, update.effective_user):
        if party is not None and (not isinstance(party.id, int) or isinstance(party.id, bool)):
            return None
    return update


def inline_keyboard(message_id: str, buttons: tuple[Button, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.title or b.payload, callback_data=f"b:{message_id}:{i}")]
            for i, b in enumerate(buttons)
        ]
    )


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_PHONE_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# Fields of the Bot API's objects this channel reads, by the JSON type Telegram sends.
_STRING_FIELDS = frozenset(
    {"text", "caption", "data", "phone_number", "first_name", "last_name", "username", "type", "language_code"}
)
# ("id" is a number for users and chats but a string for callback queries.)
_INTEGER_FIELDS = frozenset({"update_id", "message_id", "date", "user_id", "edit_date"})


def _well_typed(value: Any, depth: int = 0) -> bool:
    """True when every known field anywhere in the update has the type the Bot API gives it."""
    if depth > 20:
        return False
    if isinstance(value, list):
        return all(_well_typed(item, depth + 1) for item in value)
    if not isinstance(value, dict):
        return True
    for key, item in value.items():
        if key in _STRING_FIELDS and not isinstance(item, str):
            return False
        if key in _INTEGER_FIELDS and (not isinstance(item, int) or isinstance(item, bool)):
            return False
        if not _well_typed(item, depth + 1):
            return False
    return True
