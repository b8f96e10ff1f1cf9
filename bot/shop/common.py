"""Reading the values every platform payload carries in its own way."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from crm.normalize import normalize_email, normalize_phone
from crm.services.shop_sync import LineUpdate, UpdateRefused


def timestamp(value: Any, *, field: str, naive_is_utc: bool = True) -> datetime | None:
    """ISO 8601 ("2024-01-01T10:00:00-05:00", or naive UTC as WooCommerce's *_gmt)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise UpdateRefused(f"{field} is not a date")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UpdateRefused(f"{field} is not an ISO 8601 date: {value[:40]!r}") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise UpdateRefused(f"{field} has no time zone")
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def money(value: Any, *, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise UpdateRefused(f"{field} is not an amount: {str(value)[:20]!r}") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e8"):
        raise UpdateRefused(f"{field} is out of range")
    return amount.quantize(Decimal("0.01"))


def text(value: Any, *, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int)):
        raise UpdateRefused(f"{field} is not text")
    result = str(value).strip()
    return result[:limit] if result else None


def ident(value: Any, *, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() in ("", "0"):
        raise UpdateRefused(f"{field} is missing")
    return str(value).strip()[:64]


def email(value: Any) -> str | None:
    return normalize_email(value) if isinstance(value, str) else None


def phone(value: Any) -> str | None:
    return normalize_phone(value) if isinstance(value, str) and value.strip() else None


def quantity(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10_000:
        raise UpdateRefused(f"{field} is not a positive whole number")
    return value


def address(parts: list[Any]) -> str | None:
    lines = [str(p).strip() for p in parts if isinstance(p, (str, int)) and str(p).strip()]
    return ", ".join(lines)[:1000] if lines else None


def obj(value: Any, *, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UpdateRefused(f"{field} is not a JSON object")
    return value


def postal_address(value: Any, *, streets: tuple[str, str], postcode: str) -> str | None:
    """One line from a platform's address object (the platforms name the street and postcode keys)."""
    if not isinstance(value, dict):
        return None
    name = " ".join(str(value.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return address(
        [name, value.get("company"), value.get(streets[0]), value.get(streets[1]), value.get("city"),
         value.get(postcode), value.get("country")]
    )  # fmt: skip


def lines(items: Any, *, names: tuple[str, ...] = ("name",)) -> tuple[LineUpdate, ...]:
    """An order's line items; each item's name is the first of `names` it has."""
    if not isinstance(items, list):
        raise UpdateRefused("line_items is not a list")
    found = []
    for i, item in enumerate(items):
        item = obj(item, field=f"line_items[{i}]")
        value = item.get(names[0])
        for key in names[1:]:
            value = value or item.get(key)  # as `a or b`: the first that is set
        name = text(value, field=f"line_items[{i}].name", limit=200)
        if name is None:
            raise UpdateRefused(f"line_items[{i}] has no {' or '.join(names)}")
        found.append(
            LineUpdate(
                name=name,
                quantity=quantity(item.get("quantity"), field=f"line_items[{i}].quantity"),
                price=money(item.get("price"), field=f"line_items[{i}].price"),
            )
        )
    return tuple(found)
