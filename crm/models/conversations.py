"""Conversations: the transcript, staff, handoffs, feedback, NPS and the review queue."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, string_enum, utcnow
from crm.vocabulary import ConversationState, Sender


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
        string_enum(ConversationState), default=ConversationState.bot
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
    sender: Mapped[Sender] = mapped_column(string_enum(Sender))
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
    turn_state: Mapped[TurnState | None] = mapped_column(string_enum(TurnState))
    turn_updated_at: Mapped[datetime | None]
    # Why a turn ended in an apology (a failure kind, never message text).
    turn_reason: Mapped[str | None] = mapped_column(String(40))
    # Outbound messages the gateway sends: pending until the channel took it. None for
    # customer messages and for rows nobody sends (suppressed replies, the record).
    delivery: Mapped[Delivery | None] = mapped_column(string_enum(Delivery))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(string_enum(StaffRole), default=StaffRole.agent)
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
    status: Mapped[HandoffStatus] = mapped_column(string_enum(HandoffStatus), default=HandoffStatus.queued)
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
