"""Checks of rasa_ext/tracker_store.py, run inside `.venv-rasa` (Rasa has no pytest there).

test_tracker_store.py runs this module through the shared harness (tests/rasa_env/)
and turns each `check_*` into a test; each gets a scratch directory of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.rasa_env.inside import run_checks

from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered  # noqa: E402
from rasa.shared.core.slots import AnySlot  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from rasa_ext.tracker_store import ERASURE_SLOT, ErasingSQLTrackerStore  # noqa: E402

DOMAIN = Domain.from_dict(
    {"slots": {ERASURE_SLOT: {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}}}
)


def _store(directory: Path, name: str) -> ErasingSQLTrackerStore:
    return ErasingSQLTrackerStore(domain=DOMAIN, url=f"sqlite:///{directory / name}")


def _tracker(sender: str, *events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender, list(events), slots=[AnySlot(ERASURE_SLOT, mappings=[{"type": "custom"}])]
    )


def _turn(text: str, reply: str) -> list[Any]:
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "inform", "confidence": 1.0}, metadata={"customer_id": "C042"}),
        BotUttered(reply),
    ]


def _count(store: ErasingSQLTrackerStore, sender: str) -> int:
    with store.session_scope() as session:
        return session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender).count()


def _texts(store: ErasingSQLTrackerStore) -> str:
    with store.session_scope() as session:
        return " ".join(row.data for row in session.query(store.SQLEvent).all())


def check_an_ordinary_turn_is_saved(directory: Path) -> None:
    store = _store(directory, "ordinary.db")
    asyncio.run(store.save(_tracker("conv-a", *_turn("where is my order", "It shipped."))))
    assert _count(store, "conv-a") == 3
    restored = asyncio.run(store.retrieve("conv-a"))
    assert restored is not None and restored.latest_message.text == "where is my order"


def check_an_erasure_removes_every_marked_conversation_and_writes_nothing_of_the_turn(directory: Path) -> None:
    store = _store(directory, "erase.db")
    asyncio.run(store.save(_tracker("conv-old", *_turn("my e-mail is ada@example.com", "Thanks."))))
    asyncio.run(store.save(_tracker("conv-bystander", *_turn("hello from bob", "Hi Bob."))))
    earlier = _turn("delete my data", "Are you sure?")
    asyncio.run(store.save(_tracker("conv-now", *earlier)))
    erasing = _tracker(
        "conv-now",
        *earlier,
        *_turn("yes", "Done. I've deleted your details."),
        SlotSet(ERASURE_SLOT, ["conv-old", "conv-now"]),
    )
    asyncio.run(store.save(erasing))
    assert _count(store, "conv-old") == 0 and _count(store, "conv-now") == 0
    stored = _texts(store)
    for personal in ("ada@example.com", "delete my data", "Done. I've deleted", "Are you sure?"):
        assert personal not in stored, personal
    # Someone else's conversation is untouched.
    assert _count(store, "conv-bystander") == 3 and "hello from bob" in stored


def check_a_url_in_endpoints_is_split_into_rasas_fields(directory: Path) -> None:
    store = _store(directory, "url.db")
    assert store.engine.url.get_backend_name() == "sqlite"
    assert str(store.engine.url.database).endswith("url.db")


run_checks(globals())
