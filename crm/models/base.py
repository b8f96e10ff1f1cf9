"""The declarative base every CRM model shares, and how its columns are typed."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Enum
from sqlalchemy.orm import DeclarativeBase, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def string_enum(cls: type[enum.Enum]) -> Enum:
    # Store enum values as plain strings so the database stays readable and
    # adding a member never needs a PostgreSQL ALTER TYPE.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


def children(back_populates: str, *, order_by: str | None = None) -> Any:
    """A one-to-many whose rows belong to the parent: they go when it goes, or when taken off its list."""
    return relationship(back_populates=back_populates, cascade="all, delete-orphan", order_by=order_by)
