"""The CRM schema: SQLAlchemy 2 typed models.

One shop's customers, what they bought, and every conversation they had with
the shop. Timestamps are timezone-aware UTC. Identifiers the shop already uses
(customer ids from its spreadsheet, order numbers) are kept as strings because
shops write them with letters and leading zeros.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crm.vocabulary import ConversationState, Sender


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store enum values as plain strings so the database stays readable and
    # adding a member never needs a PostgreSQL ALTER TYPE.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class OrderStatus(str, enum.Enum):
    placed = "placed"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    returned = "returned"


class ReturnStatus(str, enum.Enum):
    requested = "requested"
    approved = "approved"
    received = "received"
    refunded = "refunded"
    rejected = "rejected"


class Delivery(str, enum.Enum):
    """Whether an outbound message reached the customer's channel (bot/redelivery.py)."""

    pending = "pending"  # stored, to be sent; still pending after a crash means it is owed
    sent = "sent"  # the channel took it
    refused = "refused"  # the platform refused it (a number that opted out, a blocked bot)


class TurnState(str, enum.Enum):
    """Where a customer message's turn stands: every acknowledged message ends answered or apologised."""

    received = "received"  # stored and acknowledged; the assistant not asked yet
    processing = "processing"  # the assistant is being asked
    answered = "answered"
    apologised = "apologised"
    held = "held"  # kept for the staff member holding the conversation
    rejected = "rejected"  # stored, not for the assistant (a stale button); the customer was told


class HandoffStatus(str, enum.Enum):
    queued = "queued"
    assigned = "assigned"
    resolved = "resolved"


class StaffRole(str, enum.Enum):
    agent = "agent"
    admin = "admin"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The shop's own customer id (the `customer_id` column of customers.csv).
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-case
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    locale: Mapped[str] = mapped_column(String(10), default="en")
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Created by the demo seed: the only customers demo sign-in may ever act as.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # Order notices (shipped, late, refunded): None = never asked, so never sent.
    order_updates_opt_in: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When the shop platform last changed it (see Order.source_updated_at).
    source_updated_at: Mapped[datetime | None]

    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    orders: Mapped[list[Order]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Order.placed_at.desc()"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class ChannelIdentity(Base):
    """A customer's address on a channel: a Telegram user id, a phone number."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))  # "telegram", "sms", "web"
    external_user_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    # As the shop writes it, without "#" or leading zeros: "1043".
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    placed_at: Mapped[datetime]
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    carrier: Mapped[str | None] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    shipping_address: Mapped[str | None] = mapped_column(Text)
    # The platform's own id ("shopify:450789469"), for updates that name no order number.
    platform_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # When the platform last changed it: an older update never overwrites a newer one.
    source_updated_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="orders")
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    returns: Mapped[list[ReturnRequest]] = relationship(
        back_populates="order", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class ReturnRequest(Base):
    """A return and its refund: one record, with a reference the customer can quote."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # "R-7K3QX2"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[ReturnStatus] = mapped_column(_enum(ReturnStatus), default=ReturnStatus.requested)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="returns")


class Conversation(Base):
    """One customer's thread on one channel. Its id is Rasa's sender id."""

    __tablename__ = "conversations"
    # Channels find a conversation by where its replies go (widget session
    # hash, Telegram chat, phone number) on every inbound message; the
    # insights page filters by when it began.
    __table_args__ = (
        Index("ix_conversations_channel_address", "channel", "address"),
        Index("ix_conversations_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # "web", "telegram", "sms", "shell"
    # Where replies go on that channel: widget session id, Telegram chat id, phone number.
    address: Mapped[str] = mapped_column(String(128), default="")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[ConversationState] = mapped_column(
        _enum(ConversationState), default=ConversationState.bot
    )
    locale: Mapped[str] = mapped_column(String(10), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Message.id"
    )


class Message(Base):
    """One line of a transcript. Inbound messages carry the channel's own id,
    whose uniqueness per channel is the atomic de-duplication claim."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "channel_message_id"),
        # Covers the insights page's counts of requests per period: no table lookups.
        Index("ix_messages_created_at_sender_intent", "created_at", "sender", "intent", "conversation_id"),
        Index("ix_messages_turn_state", "turn_state", "turn_updated_at"),
        Index("ix_messages_delivery", "delivery", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    sender: Mapped[Sender] = mapped_column(_enum(Sender))
    text: Mapped[str] = mapped_column(Text, default="")
    # Buttons, custom payloads, the button payload a customer pressed.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # What the assistant read a customer message as (Rasa's top intent and its
    # confidence); None for other senders and for messages the bot never saw.
    intent: Mapped[str | None] = mapped_column(String(60))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Customer messages only: the durable promise behind the acknowledgement (bot/turns.py).
    turn_state: Mapped[TurnState | None] = mapped_column(_enum(TurnState))
    turn_updated_at: Mapped[datetime | None]
    # Why a turn ended in an apology (a failure kind, never message text).
    turn_reason: Mapped[str | None] = mapped_column(String(40))
    # Outbound messages the gateway sends: pending until the channel took it. None for
    # customer messages and for rows nobody sends (suppressed replies, the record).
    delivery: Mapped[Delivery | None] = mapped_column(_enum(Delivery))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole), default=StaffRole.agent)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """The packet a person needs to take over: why, and what the bot knew."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_status_priority", "status", "priority"),
        Index("ix_handoffs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(String(40))  # request_human, complaint, fallback, verification_failed
    intent: Mapped[str | None] = mapped_column(String(60))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    order_numbers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[HandoffStatus] = mapped_column(_enum(HandoffStatus), default=HandoffStatus.queued)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="csat")  # "csat" 1-5, "nps" 0-10
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # The staff member who resolved the handoff this rating is about, if any.
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # Where the answer was given ("web", "telegram", "sms"); None for ratings stored before it was kept.
    channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NpsInvitation(Base):
    """Each time a customer was asked the NPS question, answered or not: the 90-day rule counts these."""

    __tablename__ = "nps_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewItem(Base):
    """A customer message the assistant may have misread, waiting for staff to say what it meant.

    The text is kept masked (no e-mails, phone numbers or order numbers): it is
    what staff read in the queue and what goes into the training data.
    """

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(20))  # fallback, low_confidence, before_handoff, low_rating
    masked_text: Mapped[str] = mapped_column(Text)
    # The assistant's top guesses: [{"intent": ..., "confidence": ...}], best first.
    guesses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open, reviewed
    chosen_intent: Mapped[str | None] = mapped_column(String(60))
    new_request: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """Every change of a consent, so the shop can show when and how it was given."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "marketing", "sms"
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # channel or "import"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")


class AuditEntry(Base):
    """Who did what to whom, and when. Never holds message content or contact data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # "customer:C001", "staff:3", "system"
    action: Mapped[str] = mapped_column(String(60))  # "order.cancel", "customer.erase", ...
    subject: Mapped[str] = mapped_column(String(128), default="")  # "order:1043", "conversation:<id>"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ShopRequestKind(str, enum.Enum):
    cancel = "cancel"
    change_address = "change_address"
    return_ = "return"


class ShopRequestStatus(str, enum.Enum):
    requested = "requested"
    accepted = "accepted"
    refused = "refused"


class ShopEvent(Base):
    """One update received from the shop platform, kept 30 days for support.

    The unique (source, event_key) pair is the atomic de-duplication claim: a
    redelivered webhook fails the insert instead of being applied twice.
    """

    __tablename__ = "shop_events"
    __table_args__ = (UniqueConstraint("source", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # "shopify", "woocommerce", "api", "reconcile"
    event_key: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(60))
    # "order:1043", "customer:C001": never a name or an e-mail.
    subject: Mapped[str] = mapped_column(String(128), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="received")
    # The body as received; None once the customer it was about is erased.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiKey(Base):
    """A bearer key for the shop's JSON API. Only a SHA-256 of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ShopRequest(Base):
    """What a customer asked the bot to do to an order, until the shop settles it."""

    __tablename__ = "shop_requests"
    __table_args__ = (Index("ix_shop_requests_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent with the request to the shop; the shop quotes it to accept or refuse.
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[ShopRequestKind] = mapped_column(_enum(ShopRequestKind))
    status: Mapped[ShopRequestStatus] = mapped_column(
        _enum(ShopRequestStatus), default=ShopRequestStatus.requested
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # Where the customer hears the outcome.
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    # The new address for change_address, the return's reference for a return.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(String(500))  # why the shop refused
    settled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship()


class OutboxMessage(Base):
    """A signed webhook to the shop, sent by the worker with retries; "dead" after the last."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(60))
    # Whose request it carries: erasing the customer erases the message too.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class VerificationFailure(Base):
    """One failed in-chat verification, counted against a key: a keyed hash of
    the order number, the e-mail or the client address (never the value), or a
    handoff already made for a customer or address in this lock-out window."""

    __tablename__ = "verification_failures"
    __table_args__ = (Index("ix_verification_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramLinkClaim(Base):
    """A Telegram deep-link token already used: each link links one account, once."""

    __tablename__ = "telegram_link_claims"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class NoticeStatus(str, enum.Enum):
    pending = "pending"  # due at due_at (deferred ones wait here too)
    sent = "sent"
    suppressed = "suppressed"  # no consent, no channel, or merged into another
    dead = "dead"  # every attempt failed: staff see it


class Notice(Base):
    """A message the shop sends first (an order shipped, is late, was refunded).

    The unique dedupe key (event and customer) is the claim that makes a
    redelivered webhook or a restarted worker never send the same notice twice.
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # shipped, out_for_delivery, delivered, delayed, refunded
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus), default=NoticeStatus.pending)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender holds it until then; a crashed sender's notices are due again after.
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Why it was suppressed or last failed: "no_consent", "cap", "merged", "HTTP 500".
    reason: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str | None] = mapped_column(String(20))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str | None] = mapped_column(Text)
    # What the template needs beyond the order (tracking link, refund amount).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Which notice this one was merged into, when several changes came close together.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    deferred: Mapped[bool] = mapped_column(Boolean, default=False)
    replied_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    order: Mapped[Order | None] = relationship()
    customer: Mapped[Customer] = relationship()
