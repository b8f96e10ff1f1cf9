"""The shop platform: its events, API keys, and the requests the chat passes to the shop."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, string_enum, utcnow
from crm.vocabulary import Vocabulary

if TYPE_CHECKING:
    from crm.models.orders import Order


# "return" is a keyword: that member is `ShopRequestKind.return_`, its value "return".
ShopRequestKind = Vocabulary("ShopRequestKind", "cancel change_address return_", module=__name__)
ShopRequestStatus = Vocabulary("ShopRequestStatus", "requested accepted refused", module=__name__)


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
    kind: Mapped[ShopRequestKind] = mapped_column(string_enum(ShopRequestKind))
    status: Mapped[ShopRequestStatus] = mapped_column(
        string_enum(ShopRequestStatus), default=ShopRequestStatus.requested
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
