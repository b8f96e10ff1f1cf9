"""Who the customer is: the gateway's word at session start, or proof in chat.

In-chat proof is an order number plus the e-mail address on that order. The
answer to a wrong pair never says which half was wrong, so the bot cannot be
used to find out which order numbers exist or whose they are. Three misses
in a conversation (counted in the CRM audit log, so a new session does not
reset them) end the attempt and bring in a person.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions import verification_guard as guard
from actions.common import channel, crm_session, latest_intent, verified_customer
from crm.clock import utcnow
from crm.models import AuditEntry, Customer
from crm.services.audit import audit
from crm.services.conversations import get_or_create_conversation
from crm.services.customers import get_customer_by_external_id
from crm.services.orders import normalize_email, normalize_order_number, verify_order_email

logger = logging.getLogger(__name__)

# Every intent that shows or changes personal data, and the action that answers
# it once the customer is verified (B's privacy actions included).
PENDING_REQUEST_ACTIONS: dict[str, str] = {
    "track_order": "action_order_status",
    "order_history": "action_order_history",
    "get_invoice": "action_invoice",
    "cancel_order": "action_cancel_order",
    "change_order": "action_change_order",
    "change_shipping_address": "action_change_address",
    "request_refund": "action_request_refund",
    "refund_status": "action_refund_status",
    "data_access": "action_data_summary",
    "newsletter": "action_newsletter",
    "delete_account": "utter_confirm_erasure",
    "linked_accounts": "action_linked_accounts",
}

MAX_VERIFICATION_ATTEMPTS = 3
FAILED_ATTEMPT_ACTION = "identity.verify_failed"
IDENTITY_SLOTS = ("customer_id", "verified", "customer_first_name")
# Slots that belong to one session's proof of identity; never carried over.
_NOT_CARRIED = {
    *IDENTITY_SLOTS,
    "session_started_metadata",
    "requested_slot",
    "pending_request",
    "verification_failed",
    "verification_attempts",
}
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
NO_MATCH = (
    "Sorry, I couldn't match that order number with that e-mail address. Please check both "
    "against your order confirmation and try again ({attempts_left} left)."
)
VERIFIED = "Thanks, {first_name} — that's you confirmed."
VERIFIED_NOTHING_PENDING = "Thanks, {first_name} — that's you confirmed. What can I help you with?"
VERIFICATION_FAILED_SHORT = (
    "I'm sorry, I still couldn't match those details, so I can't show order information here."
)
VERIFICATION_FAILED = (
    "I'm sorry, I still couldn't match those details, so I can't show order information here. "
    "I'm passing you to a person from our team who can help."
)


def start_verification(intent: str) -> list[EventType]:
    """For an action reached without a verified customer: remember what they
    asked for and run the verification form (its first question explains why)."""
    return [SlotSet("pending_request", intent), FollowupAction("verify_form")]


def _session_metadata(tracker: Tracker) -> dict[str, Any]:
    """This session's metadata. Rasa sets the slot just before running this
    action, so only a SlotSet that is the very last event counts: an older one
    belongs to a previous session and must not vouch for this one."""
    if not tracker.events:
        return {}
    last = tracker.events[-1]
    if last.get("event") == "slot" and last.get("name") == "session_started_metadata":
        value = last.get("value")
        return value if isinstance(value, dict) else {}
    return {}


class ActionSessionStart(Action):
    """Rasa's session start, plus the identity the gateway vouches for."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        metadata = _session_metadata(tracker)
        events: list[EventType] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session"):
            events.extend(
                SlotSet(name, value)
                for name, value in tracker.slots.items()
                if name not in _NOT_CARRIED and value is not None
            )
        if metadata:
            events.append(SlotSet("session_started_metadata", metadata))
        external_id = metadata.get("customer_id")
        if isinstance(external_id, str) and external_id:
            with crm_session() as session:
                customer = get_customer_by_external_id(session, external_id=external_id)
                if customer is not None:
                    events.extend(_identity_events(customer))
                else:
                    # The gateway vouched for someone the CRM no longer knows
                    # (erased, or a stale widget token): treat as anonymous.
                    logger.info("session start: the gateway's customer id is not in the CRM")
        events.append(ActionExecuted("action_listen"))
        return events


def _identity_events(customer: Customer) -> list[EventType]:
    return [
        SlotSet("customer_id", customer.external_id),
        SlotSet("verified", True),
        SlotSet("customer_first_name", customer.first_name),
    ]


class ActionRememberRequest(Action):
    """Keeps the personal request that triggered verification, to answer it after."""

    def name(self) -> str:
        return "action_remember_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        return [SlotSet("pending_request", intent if intent in PENDING_REQUEST_ACTIONS else None)]


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


def _first_text(value: Any) -> str | None:
    # Two entities of one kind in a message arrive as a list; the first counts.
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _failed_attempts(session: Session, conversation_id: str) -> int:
    return int(
        session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == FAILED_ATTEMPT_ACTION,
                AuditEntry.subject == f"conversation:{conversation_id}"[:128],
            )
        )
        or 0
    )


def record_failed_attempt(session: Session, tracker: Tracker) -> int:
    """Log a miss (no order number or e-mail in it) and return the number of
    misses in this conversation so far."""
    audit(
        session,
        actor="anonymous",
        action=FAILED_ATTEMPT_ACTION,
        subject=f"conversation:{tracker.sender_id}",
        detail={"channel": channel(tracker)},
    )
    session.flush()
    counted = _failed_attempts(session, tracker.sender_id)
    in_slot = int(tracker.get_slot("verification_attempts") or 0) + 1
    return max(counted, in_slot)


def _failure_events(attempts: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "order_number": None,
        "email": None,
        "verification_attempts": float(attempts),
    }
    if attempts >= MAX_VERIFICATION_ATTEMPTS:
        values["verification_failed"] = True
    return values


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
        text = _first_text(value)
        number = normalize_order_number(text) if text and len(text) <= _MAX_TYPED_ANSWER else None
        if number is None:
            dispatcher.utter_message(text=INVALID_ORDER_NUMBER)
        return {"order_number": number}

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _first_text(value)
        email = normalize_email(text) if text and len(text) <= _MAX_TYPED_ANSWER else None
        if email is None:
            dispatcher.utter_message(text=INVALID_EMAIL)
        return {"email": email}

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
        failure = _failure_events(attempts)
        if attempts < MAX_VERIFICATION_ATTEMPTS:
            dispatcher.utter_message(
                text=NO_MATCH.format(attempts_left=_tries(MAX_VERIFICATION_ATTEMPTS - attempts))
            )
        values.update(failure)
        # The base class updated tracker.slots already; this keeps the
        # next-slot decision in step with the failure.
        tracker.slots.update(failure)
        return [SlotSet(name, value) for name, value in values.items()]


def _tries(n: int) -> str:
    return "1 try" if n == 1 else f"{n} tries"


class ActionCompleteVerification(Action):
    """After the form: sets the verified identity and resumes the request, or
    hands over to a person after the last failed attempt."""

    def name(self) -> str:
        return "action_complete_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            order_number, email = tracker.get_slot("order_number"), tracker.get_slot("email")
            if (
                customer is None
                and not tracker.get_slot("verification_failed")
                and order_number
                and email
            ):
                # Checked again here: this action, not the form, grants identity.
                customer = verify_order_email(session, order_number=order_number, email=email)
            if customer is not None:
                return self._verified(session, dispatcher, tracker, customer)
            if tracker.get_slot("verification_failed"):
                attempts = MAX_VERIFICATION_ATTEMPTS
            else:
                # Only if the CRM changed between the form's check and this one.
                attempts = record_failed_attempt(session, tracker)
            blocked = guard.last_block(session, tracker.sender_id)
        failure = _failure_events(attempts)
        events = [SlotSet(name, value) for name, value in failure.items()]
        if attempts >= MAX_VERIFICATION_ATTEMPTS and blocked is not None and not blocked.handoff:
            # A person was already brought in for this customer or address in this window.
            logger.info("verification blocked: no second handoff in this window")
            first = guard.LOCKED.format(minutes=blocked.minutes) if blocked.minutes else VERIFICATION_FAILED_SHORT
            dispatcher.utter_message(text=f"{first} {guard.ALREADY_ASKED}")
            return events + [SlotSet("verification_failed", True)]
        if attempts >= MAX_VERIFICATION_ATTEMPTS:
            logger.info("verification failed %d times: handing over to a person", attempts)
            if blocked is not None and blocked.minutes:
                dispatcher.utter_message(text=f"{guard.LOCKED.format(minutes=blocked.minutes)} {guard.HANDING_OVER}")
            else:
                dispatcher.utter_message(text=VERIFICATION_FAILED)
            return events + [
                SlotSet("verification_failed", True),
                SlotSet("handoff_reason", "verification_failed"),
                FollowupAction("action_handoff"),
            ]
        dispatcher.utter_message(
            text=NO_MATCH.format(attempts_left=_tries(MAX_VERIFICATION_ATTEMPTS - attempts))
        )
        return events + [FollowupAction("verify_form")]

    def _verified(
        self,
        session: Session,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: Customer,
    ) -> list[EventType]:
        get_or_create_conversation(
            session, conversation_id=tracker.sender_id, channel=channel(tracker), customer=customer
        )
        audit(
            session,
            actor=f"customer:{customer.external_id}",
            action="identity.verify",
            subject=f"conversation:{tracker.sender_id}",
            detail={"channel": channel(tracker)},
        )
        logger.info("verification succeeded")
        events = _identity_events(customer)
        follow_up = PENDING_REQUEST_ACTIONS.get(tracker.get_slot("pending_request") or "")
        if follow_up is None:
            dispatcher.utter_message(
                text=VERIFIED_NOTHING_PENDING.format(first_name=customer.first_name)
            )
            return events
        dispatcher.utter_message(text=VERIFIED.format(first_name=customer.first_name))
        return events + [FollowupAction(follow_up)]
