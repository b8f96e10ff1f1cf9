"""Asking the shop: what the bot used to change itself now leaves as a request.

The customer is told the truth — the team has been asked — and hears the
answer in this same conversation once the shop accepts or refuses.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Conversation, Order, ShopRequest, ShopRequestKind
from crm.services.shop_requests import create_request, open_request

logger = logging.getLogger(__name__)

CANCEL_REQUESTED = (
    "I've asked the team to cancel order #{number}; I'll tell you here as soon as it's confirmed."
)
CANCEL_REFUND = " Once it's cancelled, you'll get {total} back to the way you paid within {days} working days."
CANCEL_UNPAID = " You haven't been charged for it."
ADDRESS_REQUESTED = (
    "I've asked the team to send order #{number} to the new address; I'll tell you here as soon "
    "as it's confirmed."
)
ALREADY_ASKED = (
    "I've already asked the team to {what} order #{number}; I'll tell you here as soon as they answer."
)
_WHAT = {
    ShopRequestKind.cancel: "cancel",
    ShopRequestKind.change_address: "change the delivery address of",
    ShopRequestKind.return_: "accept the return of",
}


def waiting_for_shop(session: Session, order: Order) -> str:
    """" I've asked the team to cancel it ..." for each request still open on the order, else ""."""
    waiting = [
        kind for kind in ShopRequestKind if open_request(session, order=order, kind=kind) is not None
    ]
    return "".join(
        " " + ALREADY_ASKED.format(what=_WHAT[kind], number=order.number) for kind in waiting
    )


def already_asked(session: Session, order: Order, kind: ShopRequestKind) -> str | None:
    """The sentence for a request that is still open, or None."""
    if open_request(session, order=order, kind=kind) is None:
        return None
    return ALREADY_ASKED.format(what=_WHAT[kind], number=order.number)


def ask_shop(
    session: Session,
    tracker: Tracker,
    *,
    order: Order,
    kind: ShopRequestKind,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> ShopRequest:
    # Rasa's sender id is the gateway's conversation id; in `rasa shell` there is none.
    conversation_id = session.scalar(select(Conversation.id).where(Conversation.id == tracker.sender_id))
    request = create_request(
        session, order=order, kind=kind, actor=actor, conversation_id=conversation_id, detail=detail
    )
    logger.info("request sent to the shop", extra={"kind": kind.value, "reference": request.reference})
    return request
