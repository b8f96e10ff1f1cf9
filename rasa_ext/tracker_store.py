"""Rasa's SQL tracker store, with erasure.

When a customer asks to be forgotten, the erasure action (in the action server)
deletes them from the CRM and sets the slot `erased_conversations` to the ids
of their conversations. Rasa saves the tracker after the turn; deleting rows
from inside the action would be undone by that save, which re-adds every event
it does not find. So the deletion happens here, at save time: the marked
conversations lose every stored event, and nothing of this turn is written.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

ERASURE_SLOT = "erased_conversations"


def _erasure_request(events: Iterable[Any]) -> list[str]:
    ids: list[str] = []
    for event in events:
        if isinstance(event, SlotSet) and event.key == ERASURE_SLOT and event.value:
            ids.extend(str(v) for v in event.value)
    return ids


class ErasingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Any = None, host: str | None = None, url: str | None = None, **kwargs: Any) -> None:
        # endpoints.yml gives one SQLAlchemy URL (TRACKER_STORE_URL), like the CRM's
        # DATABASE_URL, instead of Rasa's five separate fields.
        database_url = url or host
        if database_url and "://" in database_url:
            parsed = make_url(database_url)
            kwargs.update(
                dialect=parsed.get_backend_name(),  # Rasa brings its own driver (psycopg2)
                port=parsed.port,
                db=parsed.database or "rasa.db",
                username=parsed.username,
                password=parsed.password,
                query=dict(parsed.query) or None,
            )
            host = parsed.host
        super().__init__(domain=domain, host=host, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        erased = _erasure_request(new_events)
        if not erased:
            await super().save(tracker)
            return
        targets = set(erased) | {tracker.sender_id}
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id.in_(targets))
                .delete(synchronize_session=False)
            )
            session.commit()
        logger.info("tracker store: erased %d events of %d conversations", deleted, len(targets))
