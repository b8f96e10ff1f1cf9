"""After the bot hands over: the queue, what the customer is told, who is alerted.

The queue is every conversation waiting for staff (state `queued`), highest
priority first, then longest waiting. A customer hears their place in it and
how long replies usually take (the median of recent waits, or a default while
there is too little history), or, outside the shop's hours (shop.yml, with
holidays), when the team is back and a choice of a call back or a reply here.

New handoffs alert staff through `StaffAlerts`: the console listens on the
fan-out; a Telegram message to a staff chat is one more implementation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.messages import Button
from bot.persistence.queue import DEFAULT_WAIT as DEFAULT_WAIT  # moved; kept for importers (see the report)
from bot.persistence.queue import QueueEntry as QueueEntry
from bot.persistence.queue import QueueStatus
from bot.persistence.queue import queue as queue
from bot.persistence.queue import queue_status as queue_status
from bot.persistence.queue import typical_wait as typical_wait
from crm.shop import ShopProfile

logger = logging.getLogger(__name__)


# Button payloads the gateway answers itself: they never reach Rasa.
CALLBACK = "/handoff_callback"
REPLY_HERE = "/handoff_reply_here"
CHOICES = frozenset({CALLBACK, REPLY_HERE})
CHOICE_BUTTONS = (
    Button(title="Call me back", payload=CALLBACK),
    Button(title="Reply here", payload=REPLY_HERE),
)


# -- what the customer is told -----------------------------------------------------


@dataclass(frozen=True)
class Notice:
    text: str
    buttons: tuple[Button, ...] = ()
    data: dict[str, Any] | None = None


def describe_wait(wait: timedelta) -> str:
    minutes = wait.total_seconds() / 60
    if minutes < 2:
        return "a minute or two"
    if minutes < 10:
        return f"about {round(minutes)} minutes"
    if minutes < 60:
        return f"about {int(5 * round(minutes / 5))} minutes"
    hours = minutes / 60
    if hours < 1.5:
        return "about an hour"
    return f"about {round(hours)} hours"


def queue_notice(status: QueueStatus, profile: ShopProfile | None, now: datetime) -> Notice:
    """Told right after the handoff: the place in the queue and the wait, or when the team is back."""
    if profile is not None and not profile.is_open(now):
        back = profile.when_back(now)
        return Notice(
            text=(
                f"Our team is away right now and back {back}. "
                "Would you like a call back then, or shall we reply here?"
            ),
            buttons=CHOICE_BUTTONS,
            data={"kind": "queue_notice", "open": False, "back": back},
        )
    wait = describe_wait(status.typical_wait)
    if status.position is None or status.position <= 1:
        place = "You're next in the queue."
    else:
        place = f"You're number {status.position} in the queue."
    return Notice(
        text=f"{place} Our team usually replies within {wait}.",
        data={"kind": "queue_notice", "open": True, "position": status.position},
    )


def choice_reply(payload: str, *, phone_on_file: str | None, back: str | None) -> str:
    """The answer to the out-of-hours choice (the choice itself stays in the transcript for staff)."""
    later = f" when we're back {back}" if back else " as soon as we can"
    if payload == CALLBACK:
        if phone_on_file:
            return (
                f"Thanks — we'll call you on the number ending {phone_on_file[-3:]}{later}. "
                "If another number suits you better, just type it here."
            )
        return (
            "Thanks — please type the number we should call and a time that suits you; "
            f"our team will call you{later}."
        )
    return f"Thanks — we'll reply right here{later}. Your messages are kept, so you can close this chat."


# -- staff alerts ---------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffAlert:
    """What staff are told about a new handoff: no names, contact data or message text."""

    conversation_id: str
    channel: str
    reason: str
    priority: int
    verified: bool
    waiting: int
    console_url: str | None


class StaffAlerts(Protocol):
    async def new_handoff(self, alert: HandoffAlert) -> None: ...


def alert_text(alert: HandoffAlert) -> str:
    who = "a verified customer" if alert.verified else "an unverified customer"
    urgent = " (priority)" if alert.priority > 0 else ""
    lines = [
        f"New handoff{urgent}: {alert.reason.replace('_', ' ')} from {who} on {alert.channel}.",
        f"Waiting now: {alert.waiting}.",
    ]
    # The console link when the gateway knows its public address; the opaque id otherwise.
    lines.append(alert.console_url or f"Conversation {alert.conversation_id} in the staff console (/staff).")
    return "\n".join(lines)


class TelegramStaffAlerts:
    """A message to the staff's Telegram chat for every new handoff (STAFF_TELEGRAM_CHAT_ID)."""

    def __init__(self, *, token: str, chat_id: str, api_base_url: str) -> None:
        from telegram import Bot

        self._bot = Bot(token, base_url=api_base_url.rstrip("/") + "/bot")
        self._chat_id = chat_id
        self._ready = False

    async def new_handoff(self, alert: HandoffAlert) -> None:
        from telegram.error import TelegramError

        try:
            if not self._ready:
                await self._bot.initialize()
                self._ready = True
            await self._bot.send_message(chat_id=self._chat_id, text=alert_text(alert))
        except TelegramError as exc:
            # The console still shows the handoff; the chat alert is a courtesy.
            logger.warning("staff Telegram alert not sent: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._ready:
            await self._bot.shutdown()


# Said when staff hand back and the assistant could not take its turn (Rasa down).
RESUMED = "You're back with our assistant. If there's anything else, just write here."
