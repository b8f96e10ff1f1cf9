"""The JSON API's bodies (PUT /api/v1/orders/{number}, PUT /api/v1/customers/{id}),
for shops on a platform without a connector here. Unknown fields are refused
so a typo is a 422, not a silently ignored value."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from crm.models import OrderStatus
from crm.normalize import normalize_email, normalize_phone
from crm.services.shop_sync import CustomerUpdate, LineUpdate, OrderUpdate


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_Body):
    # When the platform last changed the customer: older updates change nothing.
    updated_at: AwareDatetime
    email: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    # Order notices (not marketing), as the shop's own checkout asked: absent = keep.
    order_updates_opt_in: bool | None = None

    def update(self, external_id: str) -> CustomerUpdate:
        return CustomerUpdate(
            external_id=external_id,
            updated_at=self.updated_at.astimezone(timezone.utc),
            email=normalize_email(self.email),
            first_name=self.first_name,
            last_name=self.last_name,
            phone=normalize_phone(self.phone),
            order_updates_opt_in=self.order_updates_opt_in,
        )


class OrderCustomerIn(_Body):
    id: str = Field(min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)


class ItemIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, lt=10_000)
    price: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e8"), decimal_places=2)


class OrderIn(_Body):
    updated_at: AwareDatetime
    status: OrderStatus | None = None
    # Needed the first time an order is sent (customer, placed_at, total).
    customer: OrderCustomerIn | None = None
    placed_at: AwareDatetime | None = None
    total: Decimal | None = Field(default=None, ge=0, lt=Decimal("1e8"), decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    items: list[ItemIn] | None = Field(default=None, max_length=500)
    carrier: str | None = Field(default=None, max_length=50)
    tracking_number: str | None = Field(default=None, max_length=64)
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    cancelled_at: AwareDatetime | None = None
    shipping_address: str | None = Field(default=None, max_length=1000)
    # A refund was made for all of it.
    refunded: bool = False

    def update(self, number: str) -> OrderUpdate:
        def utc(value: datetime | None) -> datetime | None:
            return None if value is None else value.astimezone(timezone.utc)

        person = self.customer
        return OrderUpdate(
            number=number,
            updated_at=utc(self.updated_at),
            status=self.status,
            customer=None
            if person is None
            else CustomerUpdate(
                external_id=person.id,
                email=normalize_email(person.email),
                first_name=person.first_name,
                last_name=person.last_name,
                phone=normalize_phone(person.phone),
            ),
            placed_at=utc(self.placed_at),
            total=self.total,
            currency=self.currency.upper() if self.currency else None,
            lines=None if self.items is None else tuple(LineUpdate(i.name, i.quantity, i.price) for i in self.items),
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            shipped_at=utc(self.shipped_at),
            delivered_at=utc(self.delivered_at),
            cancelled_at=utc(self.cancelled_at),
            shipping_address=self.shipping_address,
            refunded=self.refunded,
            fully_refunded=self.refunded,
        )


class SettleIn(_Body):
    status: Literal["accepted", "refused"]
    # Shown to the customer; required to refuse.
    reason: str | None = Field(default=None, max_length=500)
