"""Customer requests to the shop: requested → accepted or refused (with a reason).

The bot never edits an order itself any more: it records a request, which
leaves for the shop through the outbox (a signed webhook) and shows up in the
staff console's task list. The shop settles it by hand there, by webhook
answer, or simply by the order update that does what was asked.
"""

from __future__ import annotations

import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import (
    Customer,
    Order,
    OrderStatus,
    OutboxMessage,
    ReturnStatus,
    ShopRequest,
    ShopRequestKind,
    ShopRequestStatus,
)
from crm.services.audit import audit

if TYPE_CHECKING:
    from crm.services.shop_sync import OrderUpdate

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_REASON = 500
KIND_WORDS = {
    ShopRequestKind.cancel: "cancel order #{number}",
    ShopRequestKind.change_address: "change the delivery address of order #{number}",
    ShopRequestKind.return_: "accept the return of order #{number}",
}


class RequestClosed(ValueError):
    """The request was already settled; nothing changed."""


def _reference() -> str:
    return "Q-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def open_request(session: Session, *, order: Order, kind: ShopRequestKind) -> ShopRequest | None:
    return session.scalars(
        select(ShopRequest).where(
            ShopRequest.order_id == order.id,
            ShopRequest.kind == kind,
            ShopRequest.status == ShopRequestStatus.requested,
        )
    ).first()


def create_request(
    session: Session,
    *,
    order: Order,
    kind: ShopRequestKind,
    actor: str,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> ShopRequest:
    """Record the request and queue its webhook; an identical open one is returned as is."""
    existing = open_request(session, order=order, kind=kind)
    if existing is not None and existing.detail == (detail or {}):
        return existing
    request = ShopRequest(
        reference=_reference(),
        kind=kind,
        order=order,
        customer_id=order.customer_id,
        conversation_id=conversation_id,
        detail=detail or {},
        created_at=utcnow(),
    )
    session.add(request)
    session.flush()
    _announce(session, request, topic="request.created", actor=actor, action=f"request.{kind.value}")
    return request


def _announce(session: Session, request: ShopRequest, *, topic: str, actor: str, action: str) -> None:
    """Queue the shop's webhook for what just happened to the request, and audit it."""
    order = request.order
    enqueue(session, topic=topic, payload=request_payload(request), customer_id=order.customer_id)
    detail = {"reference": request.reference}
    audit(session, actor=actor, action=action, subject=f"order:{order.number}", detail=detail)


def request_payload(request: ShopRequest) -> dict[str, Any]:
    """What the shop's endpoint receives: enough to act without opening the console."""
    order = request.order
    customer: Customer = order.customer
    return {
        "reference": request.reference,
        "kind": request.kind.value,
        "status": request.status.value,
        "order": {"number": order.number, "platform_id": order.platform_id},
        "customer": {"id": customer.external_id},
        "detail": request.detail,
        "reason": request.reason,
        "created_at": request.created_at.isoformat(),
    }


def enqueue(
    session: Session, *, topic: str, payload: dict[str, Any], customer_id: int | None = None
) -> OutboxMessage:
    message = OutboxMessage(
        event_id=str(uuid.uuid4()), topic=topic, payload=payload, customer_id=customer_id, next_attempt_at=utcnow()
    )
    session.add(message)
    session.flush()
    return message


def get_request(session: Session, *, reference: str) -> ShopRequest | None:
    return session.scalars(select(ShopRequest).where(ShopRequest.reference == reference.strip().upper())).first()


def pending_requests(session: Session, *, limit: int = 100) -> list[ShopRequest]:
    return list(
        session.scalars(
            select(ShopRequest)
            .where(ShopRequest.status == ShopRequestStatus.requested)
            .order_by(ShopRequest.created_at, ShopRequest.id)
            .limit(limit)
        )
    )


def settle(
    session: Session, *, request: ShopRequest, accepted: bool, actor: str, reason: str | None = None
) -> ShopRequest:
    """Accept (and do it in the CRM) or refuse with a reason. RequestClosed if already settled."""
    if request.status != ShopRequestStatus.requested:
        raise RequestClosed(f"request {request.reference} is already {request.status.value}")
    reason = (reason or "").strip()[:MAX_REASON] or None
    if not accepted and reason is None:
        raise ValueError("a refusal needs a reason the customer can read")
    order = request.order
    if accepted:
        _carry_out(request, order)
    elif request.kind == ShopRequestKind.return_:
        _set_return(order, request, ReturnStatus.rejected)
    request.status = ShopRequestStatus.accepted if accepted else ShopRequestStatus.refused
    request.reason = reason
    request.settled_by = actor[:64]
    request.settled_at = utcnow()
    session.flush()
    # The shop's own system hears it too, so nobody acts on a request already answered.
    action = f"request.{request.status.value}"
    _announce(session, request, topic="request.settled", actor=actor, action=action)
    return request


def _carry_out(request: ShopRequest, order: Order) -> None:
    if request.kind == ShopRequestKind.cancel and order.status != OrderStatus.cancelled:
        order.status = OrderStatus.cancelled
        order.cancelled_at = utcnow()
    elif request.kind == ShopRequestKind.change_address and request.detail.get("address"):
        order.shipping_address = str(request.detail["address"])
    elif request.kind == ShopRequestKind.return_:
        _set_return(order, request, ReturnStatus.approved)


def _set_return(order: Order, request: ShopRequest, status: ReturnStatus) -> None:
    reference = request.detail.get("return_reference")
    for item in order.returns:
        # A refund that already happened stays a refund.
        if item.reference == reference and item.status == ReturnStatus.requested:
            item.status = status


def _same_address(a: str | None, b: str | None) -> bool:
    def squash(text: str | None) -> str:
        return re.sub(r"[\s,]+", " ", (text or "").casefold()).strip()

    return bool(a and b) and squash(a) == squash(b)


def settle_from_order(session: Session, *, order: Order, update: OrderUpdate, actor: str) -> list[int]:
    """Close the open requests this order update answers; returns their ids."""
    settled: list[int] = []
    open_ones = session.scalars(
        select(ShopRequest).where(ShopRequest.order_id == order.id, ShopRequest.status == ShopRequestStatus.requested)
    ).all()
    gone = order.status in (OrderStatus.shipped, OrderStatus.delivered)
    for request in open_ones:
        if request.kind == ShopRequestKind.cancel and order.status == OrderStatus.cancelled:
            settle(session, request=request, accepted=True, actor=actor)
        elif request.kind == ShopRequestKind.change_address and _same_address(
            update.shipping_address, request.detail.get("address")
        ):
            settle(session, request=request, accepted=True, actor=actor)
        elif request.kind == ShopRequestKind.return_ and update.refunded:
            settle(session, request=request, accepted=True, actor=actor)
        elif request.kind in (ShopRequestKind.cancel, ShopRequestKind.change_address) and gone:
            settle(session, request=request, accepted=False, actor=actor, reason="the parcel had already left us")
        else:
            continue
        settled.append(request.id)
    return settled


def outcome_text(request: ShopRequest) -> str:
    """What the customer is told on their channel once the shop has answered."""
    number = request.order.number
    if request.status == ShopRequestStatus.accepted:
        return {
            ShopRequestKind.cancel: f"Good news: the team has cancelled order #{number}. "
            "If you paid for it, the money goes back the way you paid.",
            ShopRequestKind.change_address: f"Good news: order #{number} will now go to the new address.",
            ShopRequestKind.return_: f"Good news: the team has accepted the return of order #{number}"
            " and the refund is on its way.",
        }[request.kind]
    ask = KIND_WORDS[request.kind].format(number=number)
    return f"Sorry: the team couldn't {ask}. Their reason: {request.reason}"
