"""When the bot does not understand.

The first time, `action_fallback` asks the customer to rephrase and shows a
few things it can do; a second fallback in a row goes to a person (the rule in
data/rules/fallback.yml predicts `action_handoff` directly, and this action
hands off itself too should it ever run for a second one).

`action_default_fallback` replaces Rasa's built-in one (used when the
dialogue policies are unsure) so the customer gets the same helpful answer
instead of a bare "utter_default".
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.shop_info import PERSON_BUTTON

REPHRASE = "Sorry, I didn't quite get that. Could you put it another way? Or pick one of these:"
LOST_TRACK = "Sorry, I lost track there. Could you say that another way? Or pick one of these:"
SUGGESTIONS = [
    {"title": "Where's my order?", "payload": "/track_order"},
    {"title": "Returns and refunds", "payload": "/return_policy"},
    {"title": "Delivery options", "payload": "/delivery_info"},
    PERSON_BUTTON,
]


def _user_intents(tracker: Tracker) -> list[str | None]:
    return [
        ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        for event in tracker.events
        if event.get("event") == "user"
    ]


def second_fallback_in_a_row(tracker: Tracker) -> bool:
    intents = _user_intents(tracker)
    return len(intents) >= 2 and intents[-1] == intents[-2] == "nlu_fallback"


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if second_fallback_in_a_row(tracker):
            return [SlotSet("handoff_reason", "fallback"), FollowupAction("action_handoff")]
        dispatcher.utter_message(text=REPHRASE, buttons=SUGGESTIONS)
        return []


class ActionDefaultFallback(Action):
    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=LOST_TRACK, buttons=SUGGESTIONS)
        # As Rasa's own default: forget the turn the policies could not place,
        # so the conversation continues from where it was understood.
        return [UserUtteranceReverted()]
