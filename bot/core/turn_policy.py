"""What a customer turn carries besides its message: how long it may take, the task's marks, and the
signal that Rasa answered but the transcript would not take the answer (see bot/recovery.py)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import timedelta

from bot.core.messages import BotReply, ConversationRef

# The failure kind of the apology given in this task (set by ConversationService._fail).
failure_kind: contextvars.ContextVar[str] = contextvars.ContextVar("failure_kind", default="assistant")
# The stored id of the customer message whose turn runs in this task (tagged on what Rasa is sent).
turn_message: contextvars.ContextVar[int | None] = contextvars.ContextVar("turn_message", default=None)


class UnsavedReplies(Exception):
    """Rasa answered but the database would not store the replies."""

    def __init__(self, conversation: ConversationRef, answer: list[BotReply]) -> None:
        super().__init__("bot replies could not be stored")
        self.conversation = conversation
        self.answer = answer


@dataclass(frozen=True)
class TurnPolicy:
    # An open turn untouched for this long was abandoned (longer than any live turn takes).
    lease: timedelta = timedelta(seconds=20)
    # How often the recovery pass looks for abandoned turns.
    interval_seconds: float = 5.0
    # A stranded message younger than this is still worth answering; older ones get the apology.
    resume_max_age: timedelta = timedelta(minutes=10)
    # A reply still pending this long after it was stored was never sent (longer than any send takes).
    delivery_grace: timedelta = timedelta(seconds=45)
