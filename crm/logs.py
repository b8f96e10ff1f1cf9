"""JSON-lines logging with request and conversation ids, for every process of the project.

Customers' words, e-mail addresses and phone numbers never belong in logs at
INFO. The code does not log them; the formatter also scrubs anything that
looks like one, because a third-party library might: uvicorn logs full request
paths (the widget's session token is in the query string), and a database
error's DETAIL can quote a row (an e-mail address in a unique-key conflict).
The gateway (bot/logs.py) and the action server (actions/server.py) both log
through `install_json_handler`.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import datetime, timezone

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
conversation_id_var: ContextVar[str | None] = ContextVar("conversation_id", default=None)

# Every pattern here runs on attacker-chosen text (request paths), so each must
# take linear time: a match may start only where a run of its characters starts
# (the lookbehinds), and possessive quantifiers never hand back what they took.
# The old e-mail pattern retried from every character of a long run: a
# 65,000-character path held the event loop for seconds.
# Anything@anything counts as an address: a cut-off "ada@exam" must not slip through.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w.-]*+")
# E.164-ish: a plus, then 7 or more digits with the usual separators.
_PHONE = re.compile(r"\+\d(?:[ ().-]*+\d){6,}")
# A query string, as uvicorn prints it in request lines.
_QUERY = re.compile(r"\?[^\s\"']*")

# Attributes every LogRecord has; anything else was passed with `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "conversation_id",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


# What one formatted field may hold: a log line is for people, and no pattern
# should ever see more than this of a stranger's text.
MAX_FIELD_CHARS = 4096
_MAX_TRACEBACK_CHARS = 32_768


def truncate(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """At most `limit` characters of `text`, and a note of how many were cut."""
    cut = _cut_point(text, limit)
    return text if cut == len(text) else f"{text[:cut]}…[{len(text) - cut} chars cut]"


def _cut_point(text: str, limit: int) -> int:
    # Backs off to the start of the word the cut falls in: half an e-mail
    # address ("ada.lovelace") would no longer look like one to `scrub`.
    if len(text) <= limit:
        return len(text)
    cut = limit
    while cut > 0 and (text[cut - 1].isalnum() or text[cut - 1] in "_.+-@"):
        cut -= 1
    return cut


def scrub(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text` without e-mail addresses, phone numbers or query strings, cut to `limit` characters."""
    cut = _cut_point(text, limit)
    clean = _QUERY.sub("?[query]", _PHONE.sub("[phone]", _EMAIL.sub("[email]", text[:cut])))
    return clean if cut == len(text) else f"{clean}…[{len(text) - cut} chars cut]"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        conversation_id = getattr(record, "conversation_id", None) or conversation_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        if conversation_id:
            entry["conversation_id"] = conversation_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info), limit=_MAX_TRACEBACK_CHARS)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ContextFilter(logging.Filter):
    """Copies the context ids onto the record, so any handler (and caplog) sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "conversation_id"):
            record.conversation_id = conversation_id_var.get()
        return True


def install_json_handler(name: str, level: str = "INFO") -> None:
    """Every log record of the process (root logger) through one scrubbing JSON handler on stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == name:
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.set_name(name)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
