"""How the message of the turn in progress was read, handed from the tracker store to the gateway channel.

The gateway channel answers with the turn's parse (`X-Nlu-Parse`). It used to
load the conversation's tracker from the store again after the turn just to
read `latest_message`: a second tracker load per customer message (a query
and a replay of the session's events). The tracker store saves that very
tracker at the end of the turn, in the request's own task, so it notes the
parse here and the channel reads it back (`collect`). A store that does not
(or a turn that saved nothing) leaves it unseen, and the channel loads the
tracker as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Seen:
    sender_id: str
    saved: bool = False
    parse_data: Optional[dict[str, Any]] = field(default=None)


_current: ContextVar[Optional[Seen]] = ContextVar("rasa_ext_turn_parse", default=None)


@contextmanager
def collect(sender_id: str) -> Iterator[Seen]:
    """Around one turn: what the store saw of `sender_id`'s tracker when it saved it."""
    seen = Seen(sender_id)
    token = _current.set(seen)
    try:
        yield seen
    finally:
        _current.reset(token)


def saved(tracker: Any) -> None:
    """The store stored `tracker`'s new events: note how its latest message was read."""
    seen = _current.get()
    if seen is None or seen.sender_id != tracker.sender_id:
        return
    seen.saved = True
    latest = tracker.latest_message
    seen.parse_data = latest.parse_data if latest is not None else None
