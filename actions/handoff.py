"""Handing the conversation to a person.

`action_handoff` decides that a person is needed and sends the gateway the
packet, a custom payload `{"handoff": {...}}`: why, what the customer wanted,
what the bot had filled in, which orders came up, and the verified customer
(external id) or null. The gateway alone writes the handoff: it queues the
packet and moves the conversation to the staff queue in one transaction
(bot/persistence/handoffs.py), and queues nothing twice. This action only
reads the CRM, to tell a customer who is already waiting so. Triggers:
`request_human`, `complaint`, two fallbacks in a row, and failed verification
(the verification action sets `handoff_reason`).

`request_human` also covers "how do I contact you?": a customer who only asks
for a phone number or opening hours gets them, and is offered a person rather
than queued — small teams should not get a ticket for every "what's your number".
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import crm_session, latest_intent, verified_customer
from actions.shop_info import contact_text
from crm.clock import utcnow
from crm.models import Customer
from crm.normalize import normalize_order_number
from crm.services.conversations import open_handoff
from crm.shop import ShopProfile, ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)

REASON_BY_INTENT = {
    "request_human": "request_human",
    "complaint": "complaint",
    "nlu_fallback": "fallback",
}
# Accepting an offered person ("yes") or anything unforeseen still means a
# customer who wants a person.
DEFAULT_REASON = "request_human"

# Replies to a question rather than requests: the packet should name what the
# customer actually wanted.
_ANSWER_INTENTS = frozenset({"affirm", "deny", "inform", "thank", "goodbye", "greet"})

# Bookkeeping a person taking over has no use for; every other slot the bot
# filled goes into the packet.
_NOT_FOR_STAFF = frozenset(
    {
        "session_started_metadata",
        "erased_conversations",
        "requested_slot",
        "handoff_reason",
        "handoff_offered",
        "ask_feedback",
        "feedback_asked",
        "feedback_retries",
        "newsletter_asked",
    }
)
_MAX_SLOT_CHARS = 200
_MAX_ORDER_NUMBERS = 20

_PERSON_WORDS = re.compile(
    r"\b(human|person|people|someone|somebody|agent|representative|rep|staff|operator|"
    r"advis[eo]r|manager|real|live|team member|colleague|talk to|talk with|speak to|"
    r"speak with|chat with|chat to)\b",
    re.IGNORECASE,
)
_CONTACT_WORDS = re.compile(
    r"\b(phone|telephone|number|call|ring|e-?mail|address|contact|reach|hours|open|opening|"
    r"close|closing)\b",
    re.IGNORECASE,
)

MESSAGES = {
    "request_human": "Of course — I'm passing you to a member of our team. They'll reply right "
    "here, so there's no need to repeat yourself.",
    "complaint": "I'm really sorry about this. I've passed your conversation to a member of our "
    "team as a priority — they'll reply right here.",
    "fallback": "Sorry, I'm not getting this right. I've asked a member of our team to take "
    "over — they'll reply right here.",
    "verification_failed": "I couldn't match those details, so I've asked a member of our team "
    "to help. They'll reply right here and can check your order with you.",
}
ALREADY_QUEUED = (
    "You're already in our queue — a member of our team will reply right here as soon as they can."
)
CONTACT_OFFER = "Would you like me to get a person to chat with you here?"
OFFER_BUTTONS = [
    {"title": "Yes, get me a person", "payload": "/affirm"},
    {"title": "No, thanks", "payload": "/deny"},
]


def asks_only_for_contact_details(text: str | None) -> bool:
    """ "What's your phone number?" yes; "can I speak to someone?" no."""
    if not text or text.startswith("/"):
        return False
    return bool(_CONTACT_WORDS.search(text)) and not _PERSON_WORDS.search(text)


def handoff_reason(tracker: Tracker) -> str:
    reason = tracker.get_slot("handoff_reason")
    if isinstance(reason, str) and reason:
        return reason
    return REASON_BY_INTENT.get(latest_intent(tracker) or "", DEFAULT_REASON)


def _session_user_events(tracker: Tracker) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            events = []
        elif event.get("event") == "user":
            events.append(event)
    return events


def _intent_of(event: dict[str, Any]) -> str | None:
    name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return name if isinstance(name, str) else None


def handoff_intent(tracker: Tracker, reason: str) -> str | None:
    """What the customer wanted: the triggering intent, the request that needed
    verification, or the last request before a yes/no answer."""
    latest = latest_intent(tracker)
    if latest in REASON_BY_INTENT:
        return latest
    pending = tracker.get_slot("pending_request")
    if reason == "verification_failed" and isinstance(pending, str) and pending:
        return pending
    for event in reversed(_session_user_events(tracker)):
        intent = _intent_of(event)
        if intent and intent not in _ANSWER_INTENTS:
            return intent
    return latest


def slots_for_staff(tracker: Tracker) -> dict[str, Any]:
    packet: dict[str, Any] = {}
    for name, value in tracker.slots.items():
        if name in _NOT_FOR_STAFF or value in (None, "", False, [], {}):
            continue
        if isinstance(value, str):
            packet[name] = value[:_MAX_SLOT_CHARS]
        elif isinstance(value, (bool, int, float)):
            packet[name] = value
        else:
            packet[name] = str(value)[:_MAX_SLOT_CHARS]
    return packet


def mentioned_order_numbers(tracker: Tracker) -> list[str]:
    """Order numbers the customer gave in this session, oldest first, normalised."""
    found: list[str] = []
    raw_values: list[str] = []
    for event in _session_user_events(tracker):
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if entity.get("entity") == "order_number" and entity.get("value") is not None:
                raw_values.append(str(entity["value"]))
    slot = tracker.get_slot("order_number")
    if isinstance(slot, str):
        raw_values.append(slot)
    for raw in raw_values:
        number = normalize_order_number(raw)
        if number and number not in found:
            found.append(number)
    return found[-_MAX_ORDER_NUMBERS:]


def handoff_packet(tracker: Tracker, reason: str, customer: Customer | None) -> dict[str, Any]:
    """The custom payload the gateway queues (bot/persistence/handoffs.py reads it)."""
    return {
        "handoff": {
            "reason": reason,
            "intent": handoff_intent(tracker, reason),
            "slots": slots_for_staff(tracker),
            "order_numbers": mentioned_order_numbers(tracker),
            "customer_id": customer.external_id if customer is not None else None,
        }
    }


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # `handoff_offered` stays as it is: the rule that took up the offer
        # conditions on it, and changing it here would leave that rule unable
        # to predict listening afterwards. A second "yes" only finds the open
        # handoff below.
        done: list[EventType] = [SlotSet("handoff_reason", None)]
        try:
            profile: ShopProfile | None = load_shop_profile()
        except ShopProfileError as error:
            logger.error("shop profile unavailable: %s", error)
            profile = None

        explicit_reason = tracker.get_slot("handoff_reason")
        if (
            not explicit_reason
            and latest_intent(tracker) == "request_human"
            and profile is not None
            and asks_only_for_contact_details((tracker.latest_message or {}).get("text"))
        ):
            dispatcher.utter_message(text=f"{contact_text(profile)}\n{CONTACT_OFFER}", buttons=OFFER_BUTTONS)
            # "yes" now means "get me that person" (see data/rules/handoff.yml).
            return [SlotSet("handoff_offered", True)]

        reason = handoff_reason(tracker)
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            already_queued = open_handoff(session, conversation_id=tracker.sender_id) is not None
            packet = handoff_packet(tracker, reason, customer)
        if already_queued:
            # The gateway keeps the open handoff and queues no second one.
            dispatcher.utter_message(text=ALREADY_QUEUED)
            dispatcher.utter_message(json_message=packet)
            return done
        logger.info("handoff requested for conversation %s: reason=%s", tracker.sender_id, reason)

        text = MESSAGES.get(reason, MESSAGES["request_human"])
        back = profile.when_back(utcnow()) if profile is not None else None
        if back is not None:
            text += f"\nOur team is away right now; they're back {back} and will reply then."
        dispatcher.utter_message(text=text)
        dispatcher.utter_message(json_message=packet)
        return done
