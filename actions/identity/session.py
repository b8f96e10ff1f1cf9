"""Session start: Rasa's, plus the identity the gateway vouches for."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import crm_session

from crm.models import Customer
from crm.services.customers import get_customer_by_external_id

logger = logging.getLogger(__name__)

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
                    events.extend(identity_events(customer))
                else:
                    # The gateway vouched for someone the CRM no longer knows
                    # (erased, or a stale widget token): treat as anonymous.
                    logger.info("session start: the gateway's customer id is not in the CRM")
        events.append(ActionExecuted("action_listen"))
        return events


def identity_events(customer: Customer) -> list[EventType]:
    return [
        SlotSet("customer_id", customer.external_id),
        SlotSet("verified", True),
        SlotSet("customer_first_name", customer.first_name),
    ]
