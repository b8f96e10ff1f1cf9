"""What handling one inbound message came to, and what its channel learns once it is stored."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime


class Outcome(str, enum.Enum):
    duplicate = "duplicate"  # already stored: nothing done
    unstored = "unstored"  # the database refused it: the channel must say so
    rejected = "rejected"  # stored, not for the assistant (a stale button)
    answered = "answered"  # the assistant (or the gateway for it) replied
    failed = "failed"  # the assistant failed; the customer got the apology
    held = "held"  # staff hold the conversation; kept for them


@dataclass(frozen=True)
class Receipt:
    """What the channel learns once the message is safely stored (or known already)."""

    conversation_id: str
    channel_message_id: str
    duplicate: bool
    # The database could not take it: nothing was stored, the customer must resend.
    unavailable: bool = False
    message_id: int | None = None
    text: str = ""
    created_at: datetime | None = None
    rejection: str | None = None


OnStored = Callable[[Receipt], Awaitable[None]]
