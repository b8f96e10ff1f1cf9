"""The delivery contract every channel keeps.

`send` raises `NotDelivered` - a `DeliveryFailed`, the error the staff console
and the notice senders already handle - when the platform refuses or cannot be
reached for a message a person is waiting on: a staff member's reply. The
bot's and the gateway's own messages are in the transcript already; for those
a channel that can carry on (SMS, Telegram) logs, counts and returns, so one
refused part does not end the turn.
"""

from __future__ import annotations

from bot.core.messages import OutboundMessage
from bot.conversations import DeliveryFailed
from crm.models import Sender


class NotDelivered(DeliveryFailed):
    """The channel could not hand a stored message over; `reason` says why (opted_out, refused,
    unreachable, ...). It stays in the transcript."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def not_delivered(outbound: OutboundMessage, reason: str) -> None:
    """Raise NotDelivered when someone waits to hear whether `outbound` went out; else return."""
    if outbound.sender == Sender.agent:
        raise NotDelivered(reason)
