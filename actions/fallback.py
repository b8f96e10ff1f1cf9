"""When the bot is not sure what the customer meant: Rasa's two-stage fallback.

1. `action_default_ask_affirmation`: "Did you mean …?" with the two most
   likely requests as buttons, in words a customer reads ("Check on a refund",
   not `refund_status`), and "Something else". A tap (or, on SMS, its number)
   sends that request and the conversation carries on as if it had been
   understood the first time.
2. "Something else" (`/out_of_scope`) gets `action_default_ask_rephrase`: please
   put it another way, with a few things the bot can do.
3. Not understood again: Rasa's loop gives up through `action_default_fallback`,
   which here brings in a person instead of a dead end.

The rule is in data/rules/fallback.yml. `action_default_fallback` is also what
the dialogue policies fall back to when unsure of the next step; outside the
two-stage loop it keeps its old answer and forgets the turn.
"""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import PromptAction
from actions.shop_info import PERSON_BUTTON

TWO_STAGE_FALLBACK = "action_two_stage_fallback"
ASK_WHICH = "Sorry, I'm not quite sure what you meant. Is it one of these?"
ASK_ONE = "Sorry, I'm not quite sure I understood. Did you mean this?"
REPHRASE = "Sorry, I didn't quite get that. Could you put it another way? Or pick one of these:"
LOST_TRACK = "Sorry, I lost track there. Could you say that another way? Or pick one of these:"
SOMETHING_ELSE = {"title": "Something else", "payload": "/out_of_scope"}
SUGGESTIONS = [
    {"title": "Where's my order?", "payload": "/track_order"},
    {"title": "Returns and refunds", "payload": "/return_policy"},
    {"title": "Delivery options", "payload": "/delivery_info"},
    PERSON_BUTTON,
]
# Requests worth offering back, as the customer would name them. Greetings,
# yes/no, answers to a question and off-topic chat are never offered.
REQUEST_TITLES = {
    "track_order": "Where's my order?",
    "order_history": "See my past orders",
    "cancel_order": "Cancel an order",
    "change_order": "Change an order",
    "place_order": "Place an order",
    "request_refund": "Get a refund",
    "refund_status": "Check on a refund",
    "return_policy": "Returns and refund policy",
    "cancellation_fee": "What cancelling costs",
    "delivery_info": "Delivery options and times",
    "change_shipping_address": "Change the delivery address",
    "get_invoice": "Get an invoice",
    "payment_methods": "Ways to pay",
    "payment_issue": "A problem with a payment",
    "account_help": "Help with my account",
    "delete_account": "Close my account",
    "data_access": "My personal data",
    "newsletter": "Newsletter and e-mails",
    "request_human": "Talk to a person",
    "complaint": "Make a complaint",
    "give_feedback": "Leave feedback",
    "recommend": "Product suggestions",
}
SUGGESTED_REQUESTS = 2
# Entities worth carrying into the chosen request, so "refund order 1044?"
# does not have to be typed again after tapping "Get a refund".
_CARRIED_ENTITIES = ("order_number", "product", "email")


def likely_requests(tracker: Tracker, limit: int = SUGGESTED_REQUESTS) -> list[str]:
    """The most likely requests of the latest message, best first."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    names = [item.get("name") for item in ranking]
    return [name for name in names if name in REQUEST_TITLES][:limit]


def request_button(intent: str, entities: list[dict[str, Any]]) -> dict[str, str]:
    carried: dict[str, Any] = {}
    for entity in entities:
        name = entity.get("entity")
        if name in _CARRIED_ENTITIES and name not in carried and entity.get("value") is not None:
            carried[name] = str(entity["value"])[:64]
    payload = f"/{intent}{json.dumps(carried)}" if carried else f"/{intent}"
    return {"title": REQUEST_TITLES[intent], "payload": payload}


class ActionAskAffirmation(Action):
    """Stage one: offer the two most likely requests back."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        entities = tracker.latest_message.get("entities") or []
        candidates = likely_requests(tracker)
        buttons = [request_button(intent, entities) for intent in candidates]
        if not buttons:
            dispatcher.utter_message(text=REPHRASE, buttons=SUGGESTIONS)
            return []
        text = ASK_ONE if len(buttons) == 1 else ASK_WHICH
        dispatcher.utter_message(text=text, buttons=[*buttons, SOMETHING_ELSE])
        return []


class ActionAskRephrase(PromptAction):
    """Stage two: none of those; ask for other words, with a few suggestions."""

    text = REPHRASE
    buttons = SUGGESTIONS

    def name(self) -> str:
        return "action_default_ask_rephrase"


class ActionDefaultFallback(Action):
    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.active_loop_name == TWO_STAGE_FALLBACK:
            # Asked twice and still not understood: a person, not a third try.
            return [SlotSet("handoff_reason", "fallback"), FollowupAction("action_handoff")]
        dispatcher.utter_message(text=LOST_TRACK, buttons=SUGGESTIONS)
        # As Rasa's own default: forget the turn the policies could not place,
        # so the conversation continues from where it was understood.
        return [UserUtteranceReverted()]
