"""Small factories for CRM rows. Keyword arguments with defaults; each one adds
the row to the session and flushes, so ids are set. Unique values (customer
ids, e-mails, order numbers) are generated unless given."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Feedback,
    Handoff,
    HandoffStatus,
    Message,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ReturnRequest,
    ReturnStatus,
    Sender,
    StaffRole,
    StaffUser,
)

_sequence = itertools.count(1)


def _next() -> int:
    return next(_sequence)


def make_customer(
    session: Session,
    *,
    external_id: str | None = None,
    first_name: str = "Test",
    last_name: str = "Customer",
    email: str | None = "",
    phone: str | None = None,
    locale: str = "en",
    marketing_opt_in: bool = False,
    telegram_user_id: str | int | None = None,
) -> Customer:
    """`email=""` (the default) generates a unique address; pass None for none."""
    n = _next()
    customer = Customer(
        external_id=external_id or f"T{n:05d}",
        first_name=first_name,
        last_name=last_name,
        email=f"customer{n}@example.com" if email == "" else email,
        phone=phone,
        locale=locale,
        marketing_opt_in=marketing_opt_in,
    )
    session.add(customer)
    if telegram_user_id is not None:
        customer.identities.append(ChannelIdentity(channel="telegram", external_user_id=str(telegram_user_id)))
    session.flush()
    return customer


def make_product(
    session: Session,
    *,
    name: str | None = None,
    price: Decimal | str | None = Decimal("10.00"),
    currency: str = "GBP",
    active: bool = True,
) -> Product:
    """The product with this name if it exists, else a new one."""
    if name is not None:
        existing = session.scalars(select(Product).where(Product.name == name)).first()
        if existing is not None:
            return existing
    product = Product(
        name=name or f"Test Product {_next()}",
        price=Decimal(price) if price is not None else None,
        currency=currency,
        active=active,
    )
    session.add(product)
    session.flush()
    return product


def make_order(
    session: Session,
    *,
    customer: Customer,
    number: str | None = None,
    status: OrderStatus | str = OrderStatus.delivered,
    placed_at: datetime | None = None,
    lines: list[tuple[str, int]] | list[tuple[str, int, str]] | None = None,
    total: Decimal | str | None = None,
    currency: str = "GBP",
    carrier: str | None = None,
    tracking_number: str | None = None,
    shipped_at: datetime | None = None,
    delivered_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    shipping_address: str | None = None,
) -> Order:
    """`lines` are (product name, quantity) or (name, quantity, unit price);
    default one "Blue Mug". `total` defaults to the sum of the lines. Shipped and
    delivered orders get plausible carrier, tracking and dates unless given."""
    status = OrderStatus(status)
    placed_at = placed_at or utcnow() - timedelta(days=10)
    specs = lines if lines is not None else [("Blue Mug", 1)]
    order = Order(
        number=number or str(90000 + _next()),
        customer=customer,
        status=status,
        placed_at=placed_at,
        currency=currency,
        total=Decimal("0"),
        cancelled_at=cancelled_at,
        shipping_address=shipping_address,
    )
    computed = Decimal("0.00")
    for spec in specs:
        name, quantity = spec[0], spec[1]
        price = Decimal(spec[2]) if len(spec) > 2 else Decimal("10.00")  # type: ignore[misc]
        product = make_product(session, name=name, price=price, currency=currency)
        order.lines.append(OrderLine(product=product, quantity=quantity))
        computed += (product.price or Decimal("0")) * quantity
    order.total = Decimal(total) if total is not None else computed
    if status in (OrderStatus.shipped, OrderStatus.delivered, OrderStatus.returned):
        order.carrier = carrier or "Royal Mail"
        order.tracking_number = tracking_number or f"AB{_next():09d}GB"
        order.shipped_at = shipped_at or placed_at + timedelta(days=1)
    else:
        order.carrier, order.tracking_number, order.shipped_at = carrier, tracking_number, shipped_at
    if status in (OrderStatus.delivered, OrderStatus.returned):
        order.delivered_at = delivered_at or (order.shipped_at or placed_at) + timedelta(days=2)
    else:
        order.delivered_at = delivered_at
    session.add(order)
    session.flush()
    return order


def make_return(
    session: Session,
    *,
    order: Order,
    reference: str | None = None,
    status: ReturnStatus | str = ReturnStatus.requested,
    reason: str = "Not as expected",
    amount: Decimal | None = None,
    created_at: datetime | None = None,
) -> ReturnRequest:
    request = ReturnRequest(
        reference=reference or f"R-T{_next():05d}",
        order=order,
        status=ReturnStatus(status),
        reason=reason,
        amount=amount if amount is not None else order.total,
        created_at=created_at or utcnow(),
    )
    session.add(request)
    session.flush()
    return request


def make_staff_user(
    session: Session,
    *,
    email: str | None = None,
    name: str = "Sam Staff",
    password_hash: str = "not-a-real-hash",
    role: StaffRole | str = StaffRole.agent,
    active: bool = True,
) -> StaffUser:
    user = StaffUser(
        email=email or f"staff{_next()}@example.com",
        name=name,
        password_hash=password_hash,
        role=StaffRole(role),
        active=active,
    )
    session.add(user)
    session.flush()
    return user


def make_conversation(
    session: Session,
    *,
    conversation_id: str | None = None,
    channel: str = "web",
    address: str = "",
    customer: Customer | None = None,
    state: ConversationState | str = ConversationState.bot,
    locale: str = "en",
) -> Conversation:
    conversation = Conversation(
        id=conversation_id or f"conv-{_next()}",
        channel=channel,
        address=address,
        customer_id=customer.id if customer is not None else None,
        state=ConversationState(state),
        locale=locale,
    )
    session.add(conversation)
    session.flush()
    return conversation


def make_message(
    session: Session,
    *,
    conversation: Conversation,
    sender: Sender | str = Sender.customer,
    text: str = "Hello",
    channel_message_id: str | None = None,
    data: dict[str, Any] | None = None,
    staff_user_id: int | None = None,
) -> Message:
    message = Message(
        conversation_id=conversation.id,
        channel=conversation.channel,
        channel_message_id=channel_message_id,
        sender=Sender(sender),
        text=text,
        data=data,
        staff_user_id=staff_user_id,
    )
    session.add(message)
    session.flush()
    return message


def make_handoff(
    session: Session,
    *,
    conversation: Conversation,
    customer: Customer | None = None,
    reason: str = "request_human",
    intent: str | None = None,
    priority: int = 0,
    status: HandoffStatus | str = HandoffStatus.queued,
    verified: bool = False,
    slots: dict[str, Any] | None = None,
    order_numbers: list[str] | None = None,
) -> Handoff:
    handoff = Handoff(
        conversation_id=conversation.id,
        customer_id=customer.id if customer is not None else None,
        reason=reason,
        intent=intent,
        priority=priority,
        status=HandoffStatus(status),
        verified=verified,
        slots=slots or {},
        order_numbers=order_numbers or [],
    )
    session.add(handoff)
    session.flush()
    return handoff


def make_feedback(
    session: Session,
    *,
    conversation_id: str,
    customer: Customer | None = None,
    score: int = 5,
    kind: str = "csat",
    comment: str | None = None,
    staff_user_id: int | None = None,
) -> Feedback:
    feedback = Feedback(
        conversation_id=conversation_id,
        customer_id=customer.id if customer is not None else None,
        score=score,
        kind=kind,
        comment=comment,
        staff_user_id=staff_user_id,
    )
    session.add(feedback)
    session.flush()
    return feedback


def make_held_conversation(
    session: Session, conversation_id: str, state: ConversationState, *handoffs: tuple[int, int, bool]
) -> Conversation:
    """A conversation last updated a minute ago, and its handoffs: (priority, minutes ago, resolved)."""
    now = utcnow()
    conversation = Conversation(id=conversation_id, channel="web", state=state, updated_at=now - timedelta(minutes=1))
    session.add(conversation)
    for priority, minutes, resolved in handoffs:
        session.add(
            Handoff(
                conversation_id=conversation_id, reason="asked", priority=priority, slots={}, order_numbers=[],
                status=HandoffStatus.resolved if resolved else HandoffStatus.queued,
                created_at=now - timedelta(minutes=minutes),
            )
        )  # fmt: skip
    session.flush()
    return conversation
