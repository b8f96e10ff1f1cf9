"""Outgoing: the ordered outbox, and notices to customers about their orders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, string_enum, utcnow

if TYPE_CHECKING:
    from crm.models.customers import Customer
    from crm.models.orders import Order


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
    status: Mapped[NoticeStatus] = mapped_column(string_enum(NoticeStatus), default=NoticeStatus.pending)
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
