"""What every action module shares: the CRM unit of work and who the customer is.

Identity comes from two places only, both out of the customer's reach:
- the metadata the gateway attaches to each message (`customer_id`, set only
  for a customer the gateway verified: signed widget identity, Twilio-signed
  phone number, linked Telegram account), and
- the `customer_id` slot, which only the verification action sets (its
  mapping is `custom`, so no entity or button payload can fill it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rasa_sdk import Tracker
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
