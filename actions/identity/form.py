"""The verification form: its questions, and the check of each answer and of the pair."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import verification_guard as guard
from actions.common import crm_session, latest_intent, verified_customer
from actions.identity.attempts import (
    MAX_VERIFICATION_ATTEMPTS,
    failure_events,
    no_match,
    record_failed_attempt,
)
from crm.clock import utcnow
from crm.services.orders import normalize_email, normalize_order_number, verify_order_email

logger = logging.getLogger(__name__)

# Longest typed answer worth validating; anything longer is rejected unread.
_MAX_TYPED_ANSWER = 320

ASK_ORDER_NUMBER = (
    "To keep your details safe I need to check it's you first. What's your order number? "
    "It's in your order confirmation e-mail and looks like #1043."
)
ASK_ORDER_NUMBER_AGAIN = "What's the order number on your confirmation e-mail?"
ASK_EMAIL = "Thanks! And which e-mail address did you use for order #{order_number}?"
ASK_EMAIL_AGAIN = "Which e-mail address did you use for order #{order_number}?"
INVALID_ORDER_NUMBER = (
    "That doesn't look like one of our order numbers — they're digits, like #1043. "
    "You'll find yours in the order confirmation e-mail."
)
INVALID_EMAIL = (
    "That doesn't look like an e-mail address. Please type the one you used for the order, "
    "like name@example.com."
)


def _rejected_this_turn(tracker: Tracker, slot: str) -> bool:
    """Whether validation just threw away the customer's answer for `slot`
    (its own message already said why, so the question can be short)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and event.get("name") == slot and event.get("value") is None:
            return True
    return False


class ActionAskVerifyFormOrderNumber(Action):
    def name(self) -> str:
        return "action_ask_verify_form_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        retry = (tracker.get_slot("verification_attempts") or 0) > 0
        retry = retry or _rejected_this_turn(tracker, "order_number")
        dispatcher.utter_message(text=ASK_ORDER_NUMBER_AGAIN if retry else ASK_ORDER_NUMBER)
        return []


class ActionAskVerifyFormEmail(Action):
    def name(self) -> str:
        return "action_ask_verify_form_email"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_number = tracker.get_slot("order_number") or ""
        template = ASK_EMAIL_AGAIN if _rejected_this_turn(tracker, "email") else ASK_EMAIL
        dispatcher.utter_message(text=template.format(order_number=order_number))
        return []


def first_text(value: Any) -> str | None:
    # Two entities of one kind in a message arrive as a list; the first counts.
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _checked(
    value: Any, normalize: Callable[[str], str | None], invalid: str, dispatcher: CollectingDispatcher
) -> str | None:
    """The answer in its normal form, or None after saying what was wrong with it."""
    text = first_text(value)
    normal = normalize(text) if text and len(text) <= _MAX_TYPED_ANSWER else None
    if normal is None:
        dispatcher.utter_message(text=invalid)
    return normal


class ValidateVerifyForm(FormValidationAction):
    """Checks each answer's shape, then the pair against the CRM."""

    def name(self) -> str:
        return "validate_verify_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # Nothing left to ask: out of attempts, or the gateway vouched for the
        # customer in the meantime (the completion action handles both).
        if tracker.get_slot("verification_failed"):
            return []
        with crm_session() as session:
            if verified_customer(session, tracker) is not None:
                return []
        return domain_slots

    def _typed_answer(self, slot: str, tracker: Tracker) -> dict[str, Any]:
        """The raw text, when the customer answered the question but no entity
        was recognised, so a malformed answer gets a clear re-ask instead of
        the form silently giving way to another intent."""
        if tracker.active_loop_name != "verify_form" or tracker.get_slot("requested_slot") != slot:
            return {}
        if next(tracker.get_latest_entity_values(slot), None) is not None:
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        if not text or text.startswith("/"):
            return {}
        # Another intent means another request (or a person), and the form
        # gives way to it; but nobody asks for anything in a wall of text.
        if latest_intent(tracker) not in ("inform", "nlu_fallback") and len(text) <= _MAX_TYPED_ANSWER:
            return {}
        return {slot: text[: _MAX_TYPED_ANSWER + 1]}

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._typed_answer("order_number", tracker)

    async def extract_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._typed_answer("email", tracker)

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"order_number": _checked(value, normalize_order_number, INVALID_ORDER_NUMBER, dispatcher)}

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"email": _checked(value, normalize_email, INVALID_EMAIL, dispatcher)}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        values: dict[str, Any] = {event["name"]: event["value"] for event in events}
        order_number, email = tracker.slots.get("order_number"), tracker.slots.get("email")
        if not order_number or not email:
            return events
        if not await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain):
            return events
        with crm_session() as session:
            attempt = guard.attempt_for(tracker, order_number=order_number, email=email)
            now = utcnow()
            # Paused for this order, e-mail or address: not even the right pair is checked.
            until = guard.locked_until(session, attempt, now)
            attempts = 0
            if until is None:
                if verify_order_email(session, order_number=order_number, email=email) is not None:
                    return events
                guard.record(session, attempt, now)
                attempts = record_failed_attempt(session, tracker)
                until = guard.locked_until(session, attempt, now)
            if until is not None:
                attempts = max(attempts, MAX_VERIFICATION_ATTEMPTS)
            if attempts >= MAX_VERIFICATION_ATTEMPTS:
                guard.block(session, tracker, attempt, until=until, now=now)
        logger.info("verification: order number and e-mail do not match (attempt %d)", attempts)
        failure = failure_events(attempts)
        if attempts < MAX_VERIFICATION_ATTEMPTS:
            dispatcher.utter_message(
                text=no_match(attempts)
            )
        values.update(failure)
        # The base class updated tracker.slots already; this keeps the
        # next-slot decision in step with the failure.
        tracker.slots.update(failure)
        return [SlotSet(name, value) for name, value in values.items()]
