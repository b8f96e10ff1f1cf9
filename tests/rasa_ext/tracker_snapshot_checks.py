"""Checks of rasa_ext/tracker_store.py, run inside `.venv-rasa` (Rasa has no pytest there).

test_tracker_store_snapshots.py runs this module through the shared harness (tests/rasa_env/)
and turns each `check_*` into a test.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from tests.rasa_env.inside import run_checks

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from rasa_ext.tracker_store import ErasingSQLTrackerStore  # noqa: E402

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, ask]
slots:
  customer_name:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
  counter:
    type: float
    influence_conversation: false
    mappings: [{type: custom}]
  erased_conversations:
    type: list
    influence_conversation: false
    mappings: [{type: custom}]
forms:
  some_form:
    required_slots: []
responses:
  utter_hi: [{text: hi}]
"""
)


def _store(path: Path, **kwargs: object) -> ErasingSQLTrackerStore:
    return ErasingSQLTrackerStore(domain=DOMAIN, url=f"sqlite:///{path}", **kwargs)


def _start(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update_with_events(
        [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")], DOMAIN
    )
    return tracker


def _turn(tracker: DialogueStateTracker, i: int) -> int:
    events = [
        UserUttered(f"message {i}", {"name": "ask", "confidence": 1.0}),
        ActionExecuted("utter_hi"),
        BotUttered(f"answer {i}"),
        SlotSet("counter", float(i)),
        ActionExecuted("action_listen"),
    ]
    tracker.update_with_events(events, DOMAIN)
    return len(events)


async def _conversation(store: ErasingSQLTrackerStore, sender: str, turns: int) -> list[int]:
    """Every turn as Rasa does it: load, append, save. Lengths of the loaded trackers."""
    tracker = _start(sender)
    tracker.update(SlotSet("customer_name", "Ada"))
    await store.save(tracker)
    loaded = []
    for i in range(turns):
        tracker = await store.retrieve(sender)
        loaded.append(len(tracker.events))
        if i == 3:
            tracker.update(ActiveLoop("some_form"))
        _turn(tracker, i)
        await store.save(tracker)
    return loaded


def check_long_conversation_stays_bounded_and_keeps_state() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "rasa.db", compact_after=40, keep_turns=3)
        loaded = asyncio.run(_conversation(store, "c1", 60))
        assert max(loaded[20:]) <= 40 + 5, loaded
        tracker = asyncio.run(store.retrieve("c1"))
        assert tracker.get_slot("customer_name") == "Ada"  # set before every kept turn
        assert tracker.get_slot("counter") == 59.0
        assert tracker.active_loop_name == "some_form"
        texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
        assert texts[-3:] == ["message 57", "message 58", "message 59"], texts
        # Nothing lost or doubled in the events table: the full history is all there once.
        full = asyncio.run(store.retrieve_full_tracker("c1"))
        texts = [e.text for e in full.events if isinstance(e, UserUttered)]
        assert texts == [f"message {i}" for i in range(60)], texts


def check_untouched_below_the_limit() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "rasa.db", compact_after=400)
        loaded = asyncio.run(_conversation(store, "c1", 30))
        assert loaded == sorted(loaded) and loaded[-1] > 140, loaded  # grows: no snapshot yet
        with sqlite3.connect(Path(tmp) / "rasa.db") as db:
            assert db.execute("select count(*) from tracker_snapshots").fetchone()[0] == 0


def check_a_new_session_ignores_the_old_snapshot() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "rasa.db", compact_after=30, keep_turns=2)
        asyncio.run(_conversation(store, "c1", 20))
        tracker = asyncio.run(store.retrieve("c1"))
        tracker.update_with_events(
            [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")], DOMAIN
        )
        _turn(tracker, 100)
        asyncio.run(store.save(tracker))
        again = asyncio.run(store.retrieve("c1"))
        texts = [e.text for e in again.events if isinstance(e, UserUttered)]
        assert texts == ["message 100"], texts


def check_erasure_removes_snapshots_too() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rasa.db"
        store = _store(db, compact_after=30, keep_turns=2)
        asyncio.run(_conversation(store, "c1", 20))
        tracker = asyncio.run(store.retrieve("c1"))
        tracker.update(SlotSet("erased_conversations", ["c1"]))
        asyncio.run(store.save(tracker))
        assert asyncio.run(store.retrieve("c1")) is None
        with sqlite3.connect(db) as conn:
            assert conn.execute("select count(*) from tracker_snapshots").fetchone()[0] == 0
            assert conn.execute("select count(*) from events").fetchone()[0] == 0


def _user_texts(store: ErasingSQLTrackerStore, sender: str) -> list[str]:
    full = asyncio.run(store.retrieve_full_tracker(sender))
    return [e.text for e in full.events if isinstance(e, UserUttered)]


def check_a_loaded_tracker_is_saved_without_counting_the_stored_events() -> None:
    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "rasa.db", compact_after=400)
        asyncio.run(_conversation(store, "c1", 3))
        tracker = asyncio.run(store.retrieve("c1"))
        _turn(tracker, 3)
        statements: list[str] = []
        sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        asyncio.run(store.save(tracker))
        assert statements and not any(s.lstrip().upper().startswith("SELECT") for s in statements), statements
        # The turn's events (listen, the message, the reply) in one INSERT, in their order.
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1, statements
        assert _user_texts(store, "c1") == [f"message {i}" for i in range(4)]
        with sqlite3.connect(Path(tmp) / "rasa.db") as db:
            kinds = [row[0] for row in db.execute("select type_name from events where sender_id = 'c1' order by id")]
        assert kinds[-3:] == [e.type_name for e in tracker.events][-3:], kinds
        # Saved twice (Rasa may save a tracker again later in a turn): only what is new.
        _turn(tracker, 4)
        asyncio.run(store.save(tracker))
        assert _user_texts(store, "c1") == [f"message {i}" for i in range(5)]


def check_a_tracker_the_store_did_not_hand_out_last_is_counted_as_rasa_counts_it() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp) / "rasa.db", compact_after=400)
        asyncio.run(_conversation(store, "c1", 2))
        first = asyncio.run(store.retrieve("c1"))
        second = asyncio.run(store.retrieve("c1"))
        _turn(second, 10)
        asyncio.run(store.save(second))
        # `first` is stale: as in Rasa, its events past the stored count are what it adds (none here).
        _turn(first, 11)
        asyncio.run(store.save(first))
        assert _user_texts(store, "c1") == ["message 0", "message 1", "message 10"]
        # A brand-new tracker (never loaded), saved twice, is stored once.
        fresh = _start("c2")
        asyncio.run(store.save(fresh))
        asyncio.run(store.save(fresh))
        with sqlite3.connect(Path(tmp) / "rasa.db") as db:
            stored = db.execute("select count(*) from events where sender_id = 'c2'").fetchone()[0]
        assert stored == len(fresh.events) == 3, stored


def check_sqlite_runs_in_wal_mode() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rasa.db"
        store = _store(db)
        asyncio.run(store.save(_start("c1")))
        with sqlite3.connect(db) as conn:
            assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


run_checks(globals())
