"""actions.identity.session: who the customer is at session start, from the gateway's metadata only."""

from __future__ import annotations

from typing import Any

import pytest

from actions.identity import ActionSessionStart
from tests.actions.tracker_support import load_domain, run_action, slot_events, user_event

pytestmark = pytest.mark.usefixtures("crm")


def _session_start_tracker(metadata: Any, *, previous: list[dict[str, Any]] | None = None) -> Any:
    from rasa_sdk import Tracker

    events = [*(previous or [])]
    if metadata is not None:
        events.append({"event": "slot", "name": "session_started_metadata", "value": metadata})
    return Tracker.from_dict(
        {
            "sender_id": "conv-start",
            "slots": {"session_started_metadata": metadata},
            "latest_message": {},
            "events": events,
            "active_loop": {},
            "latest_action_name": None,
        }
    )


def test_session_start_trusts_the_gateways_verified_customer(amelia: Any) -> None:
    metadata = {"channel": "web", "customer_id": "CA1"}
    events, messages = run_action(ActionSessionStart(), _session_start_tracker(metadata))
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "slot", "slot", "action"]
    assert slot_events(events) == {
        "session_started_metadata": metadata,
        "customer_id": "CA1",
        "verified": True,
        "customer_first_name": "Amelia",
    }
    assert events[-1]["name"] == "action_listen"
    assert messages == []


def test_session_start_with_an_unknown_customer_id_stays_anonymous() -> None:
    events, _ = run_action(ActionSessionStart(), _session_start_tracker({"customer_id": "NOBODY"}))
    assert "verified" not in slot_events(events) and "customer_id" not in slot_events(events)


def test_session_start_ignores_metadata_left_from_an_earlier_session(amelia: Any) -> None:
    # The old session's metadata vouched for Amelia; this session brought none.
    earlier = [
        {"event": "slot", "name": "session_started_metadata", "value": {"customer_id": "CA1"}},
        {"event": "session_started"},
        user_event("hi", "greet"),
    ]
    tracker = _session_start_tracker(None, previous=earlier)
    tracker.slots["session_started_metadata"] = {"customer_id": "CA1"}
    events, _ = run_action(ActionSessionStart(), tracker)
    assert slot_events(events) == {}


def test_session_start_never_carries_identity_over_even_when_slots_carry(amelia: Any) -> None:
    domain = load_domain()
    domain["session_config"] = {"carry_over_slots_to_new_session": True}
    tracker = _session_start_tracker(None)
    tracker.slots.update(
        {"customer_id": "CA1", "verified": True, "customer_first_name": "Amelia", "product": "teapot"}
    )
    events, _ = run_action(ActionSessionStart(), tracker, domain)
    assert slot_events(events) == {"product": "teapot"}
