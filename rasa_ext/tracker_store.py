"""Rasa's SQL tracker store, with erasure.

When a customer asks to be forgotten, the erasure action (in the action server)
deletes them from the CRM and sets the slot `erased_conversations` to the ids
of their conversations. Rasa saves the tracker after the turn; deleting rows
from inside the action would be undone by that save, which re-adds every event
it does not find. So the deletion happens here, at save time: the marked
conversations lose every stored event, and nothing of this turn is written.

Bounded trackers: Rasa loads and replays every event of the current session
on every turn, so a turn's cost grew with the conversation (the 200th message
cost 6.5x the 5th, docs/performance.md). When a session passes
`compact_after` events, the store writes a snapshot next to the events: what
Rasa itself writes at a session start (session start, the slots, any active
form, listen) followed by the last `keep_turns` customer turns verbatim. Later
turns load the snapshot plus the events stored after it. The events table is
untouched (full history, `retrieve_full_tracker`, exports); a real new
session makes the snapshot stale and Rasa's own query applies again.

Counting what is stored: Rasa's save counts the session's stored events (a
query with a subquery) to know which of the tracker's events are new. A
tracker this store loaded already knows: the events it was built from. The
store remembers that number for the tracker object it handed out (a weak
reference, one per conversation) and saves that object's later events without
asking the database; any other tracker (a new one, one loaded earlier than the
latest, one whose events did not all replay) is counted as Rasa counts it.
Rasa's lock store keeps a conversation to one turn at a time, on one server,
between that load and that save.
"""

from __future__ import annotations

import json
import logging
import weakref
from typing import Any, Iterable, Iterator

from rasa.core.tracker_store import SQLTrackerStore
import itertools

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore as _Base
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from rasa_ext import turn_parse

logger = logging.getLogger(__name__)

ERASURE_SLOT = "erased_conversations"


def _erasure_request(events: Iterable[Any]) -> list[str]:
    ids: list[str] = []
    for event in events:
        if isinstance(event, SlotSet) and event.key == ERASURE_SLOT and event.value:
            ids.extend(str(v) for v in event.value)
    return ids


class TrackerSnapshot(_Base.Base):  # type: ignore[misc,valid-type]
    """A compacted start of one conversation's current session (see module docstring)."""

    __tablename__ = "tracker_snapshots"
    sender_id = sa.Column(sa.String(255), primary_key=True)
    # The last event id the snapshot covers; events after it are loaded as usual.
    upto_event_id = sa.Column(sa.Integer, nullable=False)
    data = sa.Column(sa.Text, nullable=False)


def compact_events(events: list[dict[str, Any]], domain: Any, keep_turns: int) -> list[dict[str, Any]] | None:
    """A session start with the state as of `keep_turns` customer turns ago, then those turns.

    None when there are not more turns than that (nothing to gain).
    """
    user_positions = [i for i, e in enumerate(events) if e.get("event") == "user"]
    if len(user_positions) <= keep_turns:
        return None
    cut = user_positions[-keep_turns]
    # Keep the listen that preceded the customer's message with its turn.
    while cut > 0 and events[cut - 1].get("event") == "action" and events[cut - 1].get("name") == "action_listen":
        cut -= 1
    if cut == 0:
        return None
    before = DialogueStateTracker.from_dict("compaction", events[:cut], domain.slots)
    start = [ActionExecuted("action_session_start").as_dict(), SessionStarted().as_dict()]
    for slot in domain.slots:
        value = before.get_slot(slot.name)
        if value != slot.initial_value:
            start.append(SlotSet(slot.name, value).as_dict())
    if before.active_loop_name:
        start.append(ActiveLoop(before.active_loop_name).as_dict())
    timestamp = events[cut].get("timestamp")
    for event in start:
        event["timestamp"] = timestamp  # keeps timestamps non-decreasing
    return start + events[cut:]


class ErasingSQLTrackerStore(SQLTrackerStore):
    def __init__(
        self,
        domain: Any = None,
        host: str | None = None,
        url: str | None = None,
        compact_after: int = 80,
        keep_turns: int = 6,
        **kwargs: Any,
    ) -> None:
        self.compact_after = int(compact_after)
        self.keep_turns = int(keep_turns)
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
        if self.engine.dialect.name == "sqlite":
            self.engine = _pooled_sqlite(self.engine)
            self.sessionmaker = sessionmaker(bind=self.engine)
        # sender id -> (the tracker object last handed out or saved, its events in the table)
        self._stored: dict[str, tuple[weakref.ref, int]] = {}

    # -- what is stored of a tracker --------------------------------------

    def _remember(self, tracker: DialogueStateTracker, stored: int) -> None:
        sender = tracker.sender_id

        def forget(ref: weakref.ref, sender: str = sender) -> None:
            if self._stored.get(sender, (None, 0))[0] is ref:
                del self._stored[sender]

        self._stored[sender] = (weakref.ref(tracker, forget), stored)

    def _known_stored(self, tracker: DialogueStateTracker) -> int | None:
        ref, stored = self._stored.get(tracker.sender_id, (None, 0))
        if ref is None or ref() is not tracker or stored > len(tracker.events):
            return None
        return stored

    # -- bounded trackers -------------------------------------------------

    def _snapshot(self, session: Any, sender_id: str) -> Any:
        """The sender's snapshot (its `upto_event_id` and `data`), unless a real session started after it.

        Read as two columns, not as an ORM object: every turn asks, and most
        conversations have none (an identity-map lookup and an object per turn
        cost 3-4 % of Rasa's CPU under load).
        """
        snapshot = session.execute(
            sa.select(TrackerSnapshot.upto_event_id, TrackerSnapshot.data).where(TrackerSnapshot.sender_id == sender_id)
        ).first()
        if snapshot is None:
            return None
        newer_start = (
            session.query(self.SQLEvent.id)
            .filter(
                self.SQLEvent.sender_id == sender_id,
                self.SQLEvent.type_name == SessionStarted.type_name,
                self.SQLEvent.id > snapshot.upto_event_id,
            )
            .first()
        )
        return None if newer_start else snapshot

    def _events_after(self, session: Any, sender_id: str, event_id: int) -> Any:
        return (
            session.query(self.SQLEvent)
            .filter(self.SQLEvent.sender_id == sender_id, self.SQLEvent.id > event_id)
            .order_by(self.SQLEvent.id)
        )

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        if fetch_events_from_all_sessions or not self.domain:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            snapshot = self._snapshot(session, sender_id)
            if snapshot is None:  # Rasa's own query (SQLTrackerStore._retrieve)
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
                events = [json.loads(row.data) for row in rows]
            else:
                events = json.loads(snapshot.data)
                after = self._events_after(session, sender_id, snapshot.upto_event_id)
                events.extend(json.loads(row.data) for row in after)
        if not events:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if len(tracker.events) == len(events):  # every stored event replayed: the count is exact
            self._remember(tracker, len(events))
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = self._known_stored(tracker)
        if stored is not None:
            return itertools.islice(tracker.events, stored, len(tracker.events))
        snapshot = self._snapshot(session, tracker.sender_id)
        if snapshot is None:
            return super()._additional_events(session, tracker)
        stored = len(json.loads(snapshot.data)) + self._events_after(session, tracker.sender_id, snapshot.upto_event_id).count()
        return itertools.islice(tracker.events, stored, len(tracker.events))

    def _compact(self, tracker: DialogueStateTracker) -> None:
        if not self.domain or len(tracker.events) <= self.compact_after:
            return
        events = [event.as_dict() for event in _current_session(tracker.events)]
        if len(events) <= self.compact_after:
            return
        compacted = compact_events(events, self.domain, self.keep_turns)
        if compacted is None:
            return
        with self.session_scope() as session:
            upto = (
                session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == tracker.sender_id).scalar()
            )
            if upto is None:
                return
            snapshot = session.get(TrackerSnapshot, tracker.sender_id)
            if snapshot is None:
                session.add(TrackerSnapshot(sender_id=tracker.sender_id, upto_event_id=upto, data=json.dumps(compacted)))
            else:
                snapshot.upto_event_id, snapshot.data = upto, json.dumps(compacted)
            session.commit()
        logger.debug("tracker store: compacted a conversation from %d to %d events", len(events), len(compacted))

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        erased = _erasure_request(new_events)
        if erased:
            self._erase(set(erased) | {tracker.sender_id})
            return
        # Rasa's own save, without counting the stored events a second time.
        await self.stream_events(tracker)
        rows = []
        for event in new_events:
            data = event.as_dict()
            rows.append(
                {
                    "sender_id": tracker.sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                    "action_name": data.get("name"),
                    "data": json.dumps(data),
                }
            )
        if rows:
            # One INSERT for the turn's events (executemany), in their order, instead of an ORM
            # object and a flush each: the same rows, about half of a save's CPU.
            with self.session_scope() as session:
                session.execute(self.SQLEvent.__table__.insert(), rows)
                session.commit()
        self._remember(tracker, len(tracker.events))
        # The gateway channel answers with this turn's parse without loading the tracker again.
        turn_parse.saved(tracker)
        self._compact(tracker)

    def _erase(self, targets: set[str]) -> None:
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id.in_(targets))
                .delete(synchronize_session=False)
            )
            session.query(TrackerSnapshot).filter(TrackerSnapshot.sender_id.in_(targets)).delete(
                synchronize_session=False
            )
            session.commit()
        logger.info("tracker store: erased %d events of %d conversations", deleted, len(targets))


def _current_session(events: Iterable[Any]) -> list[Any]:
    """The events from the latest session start on (what Rasa's own query loads)."""
    current: list[Any] = []
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name == "action_session_start":
            current = []
        current.append(event)
    return current


def _pooled_sqlite(engine: Any) -> Any:
    """The SQLite engine Rasa made, with pooled connections and tuned pragmas.

    SQLAlchemy 1.4 (Rasa's) gives a file database a NullPool: every session
    opened and closed its own connection, four or five a turn. Closing the last
    connection of a WAL database checkpoints the WAL and deletes it, and the
    next write creates it again (with syncs): 10-25 ms of a turn's tracker save
    on this machine (docs/performance.md). A QueuePool keeps connections open,
    as SQLAlchemy 2.0 does for file databases; Rasa uses them from its event
    loop's thread, and `check_same_thread` is off as in SQLAlchemy 2.0.
    In-memory databases keep Rasa's engine (their data lives in the connection).
    """
    if engine.url.database in (None, "", ":memory:"):
        _tune_sqlite(engine)
        return engine
    pooled = sa.create_engine(
        engine.url,
        poolclass=sa.pool.QueuePool,
        pool_size=2,
        max_overflow=8,
        connect_args={"check_same_thread": False},
    )
    engine.dispose()
    _tune_sqlite(pooled)
    return pooled


def _tune_sqlite(engine: Any) -> None:
    """WAL lets the gateway's readers and Rasa's writer work at once, and
    synchronous=NORMAL drops an fsync per turn (safe in WAL: a power cut can
    lose the last turns, never corrupt the file)."""

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener get the pragmas too
