"""The handoff packet an action sends among Rasa's replies, queued by the gateway.

The action server decides *that* a person is needed and says why, in a custom
payload `{"handoff": {...}}`; the gateway alone writes the queue row, in the
transaction that stores the turn's replies and moves the conversation to
`queued` (bot/persistence/replies.py), so the row and the state never disagree.
A conversation with a handoff still open gets no second one.

The packet (actions/handoff.py builds it; every key may be missing, and what is
malformed is dropped):

    reason          request_human, complaint, fallback or verification_failed
    intent          what the customer wanted
    slots           what the bot had filled in, for staff
    order_numbers   the order numbers that came up, normalised
    customer_id     the verified customer's external id, or null
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crm.models import Handoff
from crm.services import conversations
from crm.services.customers import get_customer_by_external_id

DEFAULT_REASON = "request_human"
# The action bounds these already; the queue row must not depend on it.
_MAX_SLOTS = 50
_MAX_SLOT_CHARS = 200
_MAX_ORDER_NUMBERS = 20
_MAX_ORDER_NUMBER_CHARS = 40


@dataclass(frozen=True)
class QueuedHandoff:
    """The open handoff a turn's packet ended up as; plain data, safe to pass between tasks."""

    id: int
    reason: str
    priority: int
    verified: bool
    # False: the conversation already had this handoff open; the packet added nothing.
    new: bool

    def signal(self) -> dict[str, Any]:
        """What the transcript keeps of the packet (the queue row holds the rest)."""
        return {"id": self.id, "reason": self.reason, "priority": self.priority, "verified": self.verified}


def queue_handoff(session: Session, *, conversation_id: str, packet: dict[str, Any]) -> QueuedHandoff | None:
    """The conversation's open handoff, queued from `packet` if there is none; None without a conversation."""
    existing = conversations.open_handoff(session, conversation_id=conversation_id)
    if existing is not None:
        return _queued(existing, new=False)
    external_id = _text(packet.get("customer_id"))
    customer = get_customer_by_external_id(session, external_id=external_id) if external_id else None
    handoff = conversations.record_handoff(
        session,
        conversation_id=conversation_id,
        customer=customer,
        reason=_text(packet.get("reason")) or DEFAULT_REASON,
        intent=_text(packet.get("intent")),
        slots=_slots(packet.get("slots")),
        order_numbers=_order_numbers(packet.get("order_numbers")),
        verified=customer is not None,
    )
    return None if handoff is None else _queued(handoff, new=True)


def _queued(handoff: Handoff, *, new: bool) -> QueuedHandoff:
    return QueuedHandoff(
        id=handoff.id, reason=handoff.reason, priority=handoff.priority, verified=handoff.verified, new=new
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _slots(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    slots: dict[str, Any] = {}
    for name, slot in list(value.items())[:_MAX_SLOTS]:
        if isinstance(slot, str):
            slots[str(name)] = slot[:_MAX_SLOT_CHARS]
        elif isinstance(slot, (bool, int, float)):
            slots[str(name)] = slot
    return slots


def _order_numbers(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    numbers = [n[:_MAX_ORDER_NUMBER_CHARS] for n in value if isinstance(n, str) and n]
    return numbers[-_MAX_ORDER_NUMBERS:]
