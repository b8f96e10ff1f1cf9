"""bot/shop/api_models.py: the JSON API's bodies - strict (a typo is a 422, not a silently ignored
value) - and the updates they become (UTC times, normalised contacts)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from bot.shop.api_models import CustomerIn, OrderIn, SettleIn
from crm.models import OrderStatus
from crm.services.shop_sync import LineUpdate

UTC_NOON = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_an_order_body_becomes_an_update_in_utc_with_normalised_contacts() -> None:
    body = OrderIn.model_validate({
        "updated_at": "2026-03-01T13:00:00+01:00",
        "status": "shipped",
        "customer": {"id": " C001 ", "email": " Ada@Example.COM", "phone": "+44 7700 900123"},
        "placed_at": "2026-02-28T09:30:00Z",
        "total": "24.50",
        "currency": "gbp",
        "items": [{"name": "Teapot", "quantity": 1, "price": "24.50"}],
        "tracking_number": "JD0002",
        "refunded": True,
    })  # fmt: skip
    update = body.update("1043")
    assert (update.number, update.updated_at, update.status) == ("1043", UTC_NOON, OrderStatus.shipped)
    assert update.customer is not None
    assert (update.customer.external_id, update.customer.email, update.customer.phone) == (
        "C001", "ada@example.com", "+447700900123",
    )  # fmt: skip
    assert update.placed_at == datetime(2026, 2, 28, 9, 30, tzinfo=timezone.utc)
    assert (update.total, update.currency) == (Decimal("24.50"), "GBP")
    assert update.lines == (LineUpdate("Teapot", 1, Decimal("24.50")),)
    assert update.refunded and update.fully_refunded


def test_what_an_order_body_leaves_out_is_left_alone() -> None:
    update = OrderIn.model_validate({"updated_at": "2026-03-01T12:00:00Z"}).update("1043")
    assert (update.customer, update.lines, update.status, update.shipped_at, update.currency) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert not update.refunded


def test_a_customer_body_becomes_an_update() -> None:
    body = CustomerIn.model_validate(
        {"updated_at": "2026-03-01T07:00:00-05:00", "email": "  Ada@Example.com ", "order_updates_opt_in": False}
    )
    update = body.update("C001")
    assert (update.external_id, update.updated_at, update.email, update.phone) == (
        "C001", UTC_NOON, "ada@example.com", None,
    )  # fmt: skip
    assert update.order_updates_opt_in is False


@pytest.mark.parametrize(
    "body",
    [
        {"updated_at": "2026-03-01T12:00:00Z", "tracking_numbr": "JD0002"},  # a typo
        {"updated_at": "2026-03-01T12:00:00"},  # no time zone
        {"updated_at": "2026-03-01T12:00:00Z", "status": "lost"},
        {"updated_at": "2026-03-01T12:00:00Z", "currency": "pounds"},
        {"updated_at": "2026-03-01T12:00:00Z", "total": "-1"},
        {"updated_at": "2026-03-01T12:00:00Z", "total": "1.005"},
        {"updated_at": "2026-03-01T12:00:00Z", "items": [{"name": "Teapot", "quantity": 0}]},
        {"updated_at": "2026-03-01T12:00:00Z", "customer": {"id": ""}},
    ],
)
def test_an_order_body_that_is_not_quite_right_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OrderIn.model_validate(body)


def test_settling_is_accepted_or_refused_with_a_reason() -> None:
    assert SettleIn.model_validate({"status": "refused", "reason": " Out of stock "}).reason == "Out of stock"
    with pytest.raises(ValidationError):
        SettleIn.model_validate({"status": "maybe"})
    with pytest.raises(ValidationError):
        CustomerIn.model_validate({"email": "ada@example.com"})  # when it changed is required
