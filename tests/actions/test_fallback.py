"""Not understanding: rephrase first, a person after two in a row."""

from __future__ import annotations

from actions.fallback import LOST_TRACK, REPHRASE, ActionDefaultFallback, ActionFallback
from tests.actions.tracker_support import make_tracker, run_action, texts, user_event


def test_the_first_fallback_asks_to_rephrase_with_suggestions() -> None:
    tracker = make_tracker(text="grmbl flarp", intent="nlu_fallback", history=[user_event("hi", "greet")])
    events, messages = run_action(ActionFallback(), tracker)
    assert events == []
    assert texts(messages) == REPHRASE
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert "/request_human" in payloads and "/track_order" in payloads


def test_the_second_fallback_in_a_row_hands_off() -> None:
    history = [user_event("grmbl", "nlu_fallback")]
    tracker = make_tracker(text="still flarp", intent="nlu_fallback", history=history)
    events, messages = run_action(ActionFallback(), tracker)
    assert messages == []
    assert {"event": "slot", "timestamp": None, "name": "handoff_reason", "value": "fallback"} in events
    assert {"event": "followup", "timestamp": None, "name": "action_handoff"} in events


def test_fallbacks_with_an_understood_message_between_are_not_in_a_row() -> None:
    tracker = make_tracker(
        text="flarp again",
        intent="nlu_fallback",
        history=[user_event("grmbl", "nlu_fallback"), user_event("delivery options", "delivery_info")],
    )
    events, messages = run_action(ActionFallback(), tracker)
    assert events == []
    assert texts(messages) == REPHRASE


def test_a_five_thousand_character_message_is_answered_calmly() -> None:
    tracker = make_tracker(text="z" * 5000, intent="nlu_fallback")
    events, messages = run_action(ActionFallback(), tracker)
    assert events == [] and texts(messages) == REPHRASE


def test_the_core_fallback_answers_and_forgets_the_turn() -> None:
    events, messages = run_action(ActionDefaultFallback(), make_tracker(text="?", intent="affirm"))
    assert texts(messages) == LOST_TRACK
    assert [e["event"] for e in events] == ["rewind"]
