"""crm.models.base: aware UTC times, JSON columns and enums stored as their plain values."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, Enum

from crm.models import Base, Order, OrderStatus, string_enum, utcnow


def test_now_is_aware_utc() -> None:
    assert utcnow().utcoffset() == timedelta(0)


def test_annotated_datetimes_are_timezone_aware_columns_and_dicts_are_json() -> None:
    orders, audit = Base.metadata.tables["orders"], Base.metadata.tables["audit_log"]
    assert isinstance(orders.c.placed_at.type, DateTime) and orders.c.placed_at.type.timezone is True
    assert isinstance(orders.c.shipped_at.type, DateTime) and orders.c.shipped_at.type.timezone is True
    assert isinstance(audit.c.detail.type, JSON)


def test_a_string_enum_stores_values_in_a_plain_column() -> None:
    class Colour(str, enum.Enum):
        dark_green = "green"

    column: Any = string_enum(Colour)
    assert isinstance(column, Enum)
    assert (column.native_enum, column.length, column.enums) == (False, 20, ["green"])
    assert Order.__table__.c.status.type.enums == [s.value for s in OrderStatus]  # type: ignore[attr-defined]
