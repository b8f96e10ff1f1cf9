"""What every action module shares: the CRM unit of work and who the customer is.

Identity comes from two places only, both out of the customer's reach:
- the metadata the gateway attaches to each message (`customer_id`, set only
  for a customer the gateway verified: signed widget identity, Twilio-signed
  phone number, linked Telegram account), and
- the `customer_id` slot, which only the verification action sets (its
  mapping is `custom`, so no entity or button payload can fill it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from crm.db import session_scope
from crm.models import Customer
from crm.services.customers import get_customer_by_external_id


@contextmanager
def crm_session() -> Iterator[Session]:
    """One CRM unit of work per action run."""
    with session_scope() as session:
        yield session


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """Metadata of the latest customer message (the gateway's, never the customer's)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            return metadata if isinstance(metadata, dict) else {}
    session_metadata = tracker.get_slot("session_started_metadata")
    return session_metadata if isinstance(session_metadata, dict) else {}


def channel(tracker: Tracker) -> str:
    value = message_metadata(tracker).get("channel")
    return value if isinstance(value, str) and value else "rasa"


def verified_external_id(tracker: Tracker) -> str | None:
    """The verified customer's CRM external id, or None for an anonymous customer."""
    from_gateway = message_metadata(tracker).get("customer_id")
    if isinstance(from_gateway, str) and from_gateway:
        return from_gateway
    from_verification = tracker.get_slot("customer_id")
    if tracker.get_slot("verified") and isinstance(from_verification, str) and from_verification:
        return from_verification
    return None


def verified_customer(session: Session, tracker: Tracker) -> Customer | None:
    external_id = verified_external_id(tracker)
    if external_id is None:
        return None
    return get_customer_by_external_id(session, external_id=external_id)


def latest_intent(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name")
    return name if isinstance(name, str) else None


class PromptAction(Action, ABC):
    """Says one fixed text with its buttons, and nothing else (a form's question, a prompt).

    Abstract (`name`), so the action server does not register it as an action of its own.
    """

    text: str = ""
    buttons: list[dict[str, Any]] = []

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=self.text, buttons=self.buttons)
        return []


NEEDS_VERIFICATION = (
    "I can only do that once I've confirmed it's you. Tell me what you'd like again and I'll "
    "ask for your order number and e-mail address first."
)


@dataclass(frozen=True)
class CustomerRun:
    """One run of a `VerifiedCustomerAction`: who asked, in which unit of work, and where to answer."""

    session: Session
    customer: Customer
    dispatcher: CollectingDispatcher
    tracker: Tracker
    domain: dict[str, Any]


class VerifiedCustomerAction(Action, ABC):
    """An action that acts only for a verified customer, inside one CRM unit of work.

    The rules already send everyone else through verification first; the
    action checks again itself, because a rule is a prediction, not a guarantee.
    Subclasses write `act`; `unverified` answers anyone else. Abstract, so the
    action server does not register it as an action of its own.
    """

    # Said to a customer who is not verified (the default `unverified`).
    needs_verification: str = NEEDS_VERIFICATION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with crm_session() as session:
            customer = verified_customer(session, tracker)
            if customer is None:
                return self.unverified(dispatcher, tracker)
            return self.act(CustomerRun(session, customer, dispatcher, tracker, domain))

    def unverified(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        dispatcher.utter_message(text=self.needs_verification)
        return []

    @abstractmethod
    def act(self, run: CustomerRun) -> list[EventType]: ...
