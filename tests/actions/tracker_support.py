"""Helpers for action tests: trackers as Rasa sends them, the real domain, and
running an action. (The `crm` fixture, binding the actions to the test's CRM
transaction, is in tests/actions/conftest.py.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


def load_domain() -> dict[str, Any]:
    """domain.yml as the action server receives it (slots, forms, actions, responses, intents)."""
    part = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8")) or {}
    return {
        "slots": part.get("slots") or {},
        "forms": part.get("forms") or {},
        "actions": list(part.get("actions") or []),
        "responses": part.get("responses") or {},
        "intents": list(part.get("intents") or []),
    }


def user_event(
    text: str | None = None,
    intent: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9} if intent else {},
            "entities": entities or [],
        },
        "metadata": metadata or {},
    }


def make_tracker(
    *,
    text: str | None = "hello",
    intent: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    trailing: list[dict[str, Any]] | None = None,
    sender_id: str = "conv-test",
    active_loop: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest message is (text, intent, entities, metadata).

    `history` goes before the latest message, `trailing` after it (e.g. the
    slot events a form hands its validation action).
    """
    latest = user_event(text, intent, entities, metadata)
    events = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]
    events += [*(history or []), latest, *(trailing or [])]
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": dict(slots or {}),
            "latest_message": latest["parse_data"],
            "events": events,
            "active_loop": active_loop or {},
            "latest_action_name": "action_listen",
        }
    )


def run_action(
    action: Action, tracker: Tracker, domain: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events returned, messages sent), events as the dicts the SDK sends Rasa."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain if domain is not None else load_domain()))
    return [dict(e) for e in events], dispatcher.messages


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)
