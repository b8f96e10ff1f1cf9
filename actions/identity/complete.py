"""Before and after the form: the request to answer once verified, and granting identity."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions import verification_guard as guard
from actions.common import channel, crm_session, latest_intent, verified_customer
from actions.identity.attempts import (
    MAX_VERIFICATION_ATTEMPTS,
    failure_events,
    no_match,
    record_failed_attempt,
)
from actions.identity.session import identity_events
from crm.models import Customer
from crm.services.audit import audit
from crm.services.conversations import link_customer
from crm.services.orders import verify_order_email

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


class ActionRememberRequest(Action):
    """Keeps the personal request that triggered verification, to answer it after."""

    def name(self) -> str:
        return "action_remember_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        return [SlotSet("pending_request", intent if intent in PENDING_REQUEST_ACTIONS else None)]


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
        failure = failure_events(attempts)
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
            text=no_match(attempts)
        )
        return events + [FollowupAction("verify_form")]

    def _verified(
        self,
        session: Session,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer: Customer,
    ) -> list[EventType]:
        if link_customer(session, conversation_id=tracker.sender_id, customer=customer) is None:
            # Only the gateway creates conversation rows; without one (an action
            # run without a gateway, e.g. `rasa shell`) there is nothing to link.
            logger.warning("verified customer not linked: no conversation row for this sender")
        audit(
            session,
            actor=f"customer:{customer.external_id}",
            action="identity.verify",
            subject=f"conversation:{tracker.sender_id}",
            detail={"channel": channel(tracker)},
        )
        logger.info("verification succeeded")
        events = identity_events(customer)
        follow_up = PENDING_REQUEST_ACTIONS.get(tracker.get_slot("pending_request") or "")
        if follow_up is None:
            dispatcher.utter_message(
                text=VERIFIED_NOTHING_PENDING.format(first_name=customer.first_name)
            )
            return events
        dispatcher.utter_message(text=VERIFIED.format(first_name=customer.first_name))
        return events + [FollowupAction(follow_up)]
