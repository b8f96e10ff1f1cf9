"""The SMS opt-out vocabulary, shared by the SMS adapter (reading texts) and `bot.sms_store` (consent)."""

from __future__ import annotations

from typing import Literal

CHANNEL = "sms"
Keyword = Literal["stop", "start", "help"]

# The words Twilio's own opt-out handling reacts to, as a whole message in any case.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
