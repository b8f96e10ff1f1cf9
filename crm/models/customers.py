"""Customers: who they are, how they reach the shop, what they agreed to, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, children, utcnow

if TYPE_CHECKING:
    from crm.models.orders import Order


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

    identities: Mapped[list[ChannelIdentity]] = children("customer")
    orders: Mapped[list[Order]] = children("customer", order_by="Order.placed_at.desc()")
    consents: Mapped[list[Consent]] = children("customer")


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
