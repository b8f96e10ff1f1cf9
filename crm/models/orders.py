"""Orders: products, orders and their lines, returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, children, string_enum, utcnow
from crm.vocabulary import Vocabulary

if TYPE_CHECKING:
    from crm.models.customers import Customer


OrderStatus = Vocabulary("OrderStatus", "placed paid shipped delivered cancelled returned", module=__name__)
ReturnStatus = Vocabulary("ReturnStatus", "requested approved received refunded rejected", module=__name__)


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
    status: Mapped[OrderStatus] = mapped_column(string_enum(OrderStatus))
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
    lines: Mapped[list[OrderLine]] = children("order", order_by="OrderLine.id")
    returns: Mapped[list[ReturnRequest]] = children("order")


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
    status: Mapped[ReturnStatus] = mapped_column(string_enum(ReturnStatus), default=ReturnStatus.requested)
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="returns")
