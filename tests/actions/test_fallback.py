"""Not sure what the customer meant: "Did you mean …?", then rephrase, then a person."""

from __future__ import annotations

from typing import Any

from actions.fallback import (
    ASK_ONE,
    ASK_WHICH,
    LOST_TRACK,
    REPHRASE,
    REQUEST_TITLES,
    ActionAskAffirmation,
    ActionAskRephrase,
    ActionDefaultFallback,
)
from tests.actions.tracker_support import make_tracker, run_action, texts

DOMAIN_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "inform",
    "track_order", "order_history", "cancel_order", "change_order", "place_order",
    "request_refund", "refund_status", "return_policy", "cancellation_fee", "delivery_info",
    "change_shipping_address", "get_invoice", "payment_methods", "payment_issue",
    "account_help", "delete_account", "data_access", "newsletter", "request_human",
    "complaint", "give_feedback", "recommend",
}  # fmt: skip


def _unsure(text: str, ranking: list[tuple[str, float]], entities: list[dict[str, Any]] | None = None):
    tracker = make_tracker(text=text, intent="nlu_fallback", entities=entities)
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.25},
        *({"name": name, "confidence": c} for name, c in ranking),
    ]
    return tracker


def test_did_you_mean_offers_the_two_likeliest_requests_in_plain_words() -> None:
    tracker = _unsure(
        "money still not back, 120",
        [("refund_status", 0.22), ("request_refund", 0.2), ("inform", 0.18), ("complaint", 0.1)],
    )
    events, messages = run_action(ActionAskAffirmation(), tracker)
    assert events == []
    assert texts(messages) == ASK_WHICH
    assert messages[0]["buttons"] == [
        {"title": "Check on a refund", "payload": "/refund_status"},
        {"title": "Get a refund", "payload": "/request_refund"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]


def test_greetings_answers_and_chat_are_never_offered() -> None:
    tracker = _unsure(
        "hiya 1044 ok",
        [("greet", 0.24), ("inform", 0.2), ("affirm", 0.15), ("out_of_scope", 0.1), ("track_order", 0.05)],
    )
    _, messages = run_action(ActionAskAffirmation(), tracker)
    assert texts(messages) == ASK_ONE
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/track_order", "/out_of_scope"]


def test_the_order_number_comes_along_with_the_chosen_request() -> None:
    entities = [{"entity": "order_number", "value": "1044", "start": 6, "end": 11}]
    tracker = _unsure("money #1044", [("request_refund", 0.24), ("refund_status", 0.23)], entities)
    _, messages = run_action(ActionAskAffirmation(), tracker)
    assert messages[0]["buttons"][0]["payload"] == '/request_refund{"order_number": "1044"}'


def test_with_nothing_worth_offering_it_asks_to_rephrase() -> None:
    tracker = _unsure("lol ok", [("affirm", 0.2), ("greet", 0.2)])
    _, messages = run_action(ActionAskAffirmation(), tracker)
    assert texts(messages) == REPHRASE
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]


def test_every_customer_request_has_a_readable_title() -> None:
    not_offered = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "inform"}
    assert set(REQUEST_TITLES) == DOMAIN_INTENTS - not_offered
    assert all("_" not in title for title in REQUEST_TITLES.values())


def test_something_else_gets_a_request_to_rephrase_with_suggestions() -> None:
    events, messages = run_action(ActionAskRephrase(), make_tracker(text="/out_of_scope", intent="out_of_scope"))
    assert events == []
    assert texts(messages) == REPHRASE
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert "/request_human" in payloads and "/track_order" in payloads


def test_when_the_two_stage_fallback_gives_up_a_person_takes_over() -> None:
    tracker = make_tracker(
        text="still flarp", intent="out_of_scope", active_loop={"name": "action_two_stage_fallback"}
    )
    events, messages = run_action(ActionDefaultFallback(), tracker)
    assert messages == []
    assert {"event": "slot", "timestamp": None, "name": "handoff_reason", "value": "fallback"} in events
    assert {"event": "followup", "timestamp": None, "name": "action_handoff"} in events


def test_the_core_fallback_answers_and_forgets_the_turn() -> None:
    events, messages = run_action(ActionDefaultFallback(), make_tracker(text="?", intent="affirm"))
    assert texts(messages) == LOST_TRACK
    assert [e["event"] for e in events] == ["rewind"]
