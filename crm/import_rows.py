"""Turning one CSV row into checked values, or the reasons it cannot be.

No database here: what a row says on its own. Conflicts with other rows and
with what is stored are the importer's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation

from crm.models import OrderStatus
from crm.normalize import normalize_email, normalize_order_number, normalize_phone

CUSTOMER_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "telegram_user_id",
    "locale",
    "marketing_opt_in",
    "order_updates_opt_in",
)
ORDER_COLUMNS = (
    "order_number",
    "customer_id",
    "placed_at",
    "status",
    "items",
    "total",
    "currency",
    "carrier",
    "tracking_number",
    "shipped_at",
    "delivered_at",
)
# Columns a row cannot do without; the others may be blank.
REQUIRED_CUSTOMER = ("customer_id", "first_name")
REQUIRED_ORDER = ("order_number", "customer_id", "placed_at", "status", "items", "total")

_YES = {"yes", "y", "true", "1", "x", "opt-in", "opted in"}
_NO = {"no", "n", "false", "0", "opt-out", "opted out"}
_LOCALE = re.compile(r"^[a-z]{2,3}(?:[-_][a-z]{2})?$", re.IGNORECASE)
# "2x Blue Mug @ 18.00": the price is split off at the last "@" rather than by a
# lazy name followed by optional groups, which backtracked quadratically on a
# long cell (an imported file is as untrusted as anything else).
_ITEM = re.compile(r"^(?P<qty>\d{1,4})\s*+[x×]\s*+(?P<name>.+)$", re.IGNORECASE)
_PRICE = re.compile(r"\s*+(?P<price>\d{1,8}(?:\.\d{1,2})?)")


@dataclass(frozen=True)
class CustomerRow:
    customer_id: str
    first_name: str
    # None: the cell was blank, keep what is stored.
    last_name: str | None
    email: str | None
    phone: str | None
    telegram_user_id: str | None
    locale: str | None
    marketing_opt_in: bool | None
    # Order notices (shipped, late, refunded), separate from marketing. None: not asked.
    order_updates_opt_in: bool | None = None


def _yes_no(row: dict[str, str], column: str, problems: list[str]) -> bool | None:
    if not row[column]:
        return None
    answer = row[column].lower()
    if answer in _YES or answer in _NO:
        return answer in _YES
    problems.append(f'bad {column} "{row[column]}" (expected yes or no)')
    return None


def parse_customer(row: dict[str, str], *, default_region: str) -> CustomerRow | list[str]:
    problems = [f"missing {column}" for column in REQUIRED_CUSTOMER if not row[column]]
    if len(row["customer_id"]) > 64:
        problems.append("customer_id longer than 64 characters")
    for column in ("first_name", "last_name"):
        if len(row[column]) > 100:
            problems.append(f"{column} longer than 100 characters")
    email = normalize_email(row["email"]) if row["email"] else None
    if row["email"] and email is None:
        problems.append("bad e-mail")
    phone = normalize_phone(row["phone"], default_region) if row["phone"] else None
    if row["phone"] and phone is None:
        problems.append("bad phone number")
    telegram = row["telegram_user_id"]
    if telegram and not (telegram.isdigit() and len(telegram) <= 20):
        problems.append("bad telegram_user_id (expected the numeric Telegram user id)")
    locale = row["locale"]
    if locale and not _LOCALE.match(locale):
        problems.append(f'bad locale "{locale}" (expected e.g. en or en-GB)')
    opt_in: bool | None = None
    if row["marketing_opt_in"]:
        answer = row["marketing_opt_in"].lower()
        if answer in _YES or answer in _NO:
            opt_in = answer in _YES
        else:
            problems.append(f'bad marketing_opt_in "{row["marketing_opt_in"]}" (expected yes or no)')
    order_updates = _yes_no(row, "order_updates_opt_in", problems)
    if problems:
        return problems
    return CustomerRow(
        customer_id=row["customer_id"],
        first_name=row["first_name"],
        last_name=row["last_name"] or None,
        email=email,
        phone=phone,
        telegram_user_id=telegram or None,
        locale=locale.replace("_", "-") if locale else None,
        marketing_opt_in=opt_in,
        order_updates_opt_in=order_updates,
    )


@dataclass
class Item:
    name: str
    quantity: int
    price: Decimal | None


@dataclass(frozen=True)
class OrderRow:
    number: str
    customer_id: str
    placed_at: datetime
    status: OrderStatus
    items: list[Item]
    total: Decimal
    currency: str | None
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None


def parse_items(raw: str) -> list[Item] | str:
    """ "2x Blue Mug; 1x Tea Sampler @ 18.00" -> items, or the reason it is unreadable.

    The same product twice in one order is one line with the quantities added.
    """
    items: dict[str, Item] = {}
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        head, price_text = _split_price(part)
        match = _ITEM.match(head)
        if match is None and price_text is not None:
            head, price_text = part, None  # "2x @ 5": no name before the "@", so it is the name
            match = _ITEM.match(head)
        if match is None:
            return f'"{part}" is not like "2x Blue Mug"'
        quantity = int(match["qty"])
        name = " ".join(match["name"].split())
        if quantity == 0:
            return f'"{part}" has quantity 0'
        if len(name) > 200:
            return f'product name longer than 200 characters in "{part[:40]}..."'
        price = Decimal(price_text) if price_text else None
        key = name.casefold()
        if key in items:
            items[key].quantity += quantity
            items[key].price = price or items[key].price
        else:
            items[key] = Item(name=name, quantity=quantity, price=price)
    if not items:
        return "no items"
    return list(items.values())


def _split_price(text: str) -> tuple[str, str | None]:
    """ "2x Tea Sampler @ 18.00" -> ("2x Tea Sampler", "18.00"); no price -> (text, None)."""
    head, at, price = text.rpartition("@")
    found = _PRICE.fullmatch(price) if at else None
    if found is None:
        return text, None
    return head.rstrip(), found["price"]


def parse_datetime(raw: str, *, tz: tzinfo, shift: timedelta = timedelta(0)) -> datetime | None:
    """ISO 8601 date or date-time -> aware UTC; None if unreadable. Times
    without an offset are in `tz`; `shift` is added before that is applied."""
    value = raw.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    parsed += shift
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(timezone.utc)


def parse_money(raw: str) -> Decimal | None:
    """ "46", "46.00", "£46.00" -> Decimal("46.00"); None for anything else."""
    value = raw.strip().lstrip("£€$").strip()
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount < 100_000_000 or amount != round(amount, 2):
        return None
    return amount.quantize(Decimal("0.01"))


def parse_order(row: dict[str, str], *, tz: tzinfo, shift: timedelta = timedelta(0)) -> OrderRow | list[str]:
    problems = [f"missing {column}" for column in REQUIRED_ORDER if not row[column]]
    if problems:
        return problems
    number = normalize_order_number(row["order_number"])
    if number is None:
        problems.append(f'bad order number "{row["order_number"]}"')
    dates: dict[str, datetime | None] = {}
    for column in ("placed_at", "shipped_at", "delivered_at"):
        dates[column] = parse_datetime(row[column], tz=tz, shift=shift) if row[column] else None
        if row[column] and dates[column] is None:
            problems.append(f'bad date in {column} "{row[column]}" (expected YYYY-MM-DD or YYYY-MM-DD HH:MM)')
    status = next((s for s in OrderStatus if s.value == row["status"].lower()), None)
    if status is None:
        problems.append(f'bad status "{row["status"]}" (expected one of {", ".join(s.value for s in OrderStatus)})')
    items = parse_items(row["items"])
    if isinstance(items, str):
        problems.append(f"bad items: {items}")
    total = parse_money(row["total"])
    if total is None:
        problems.append(f'bad total "{row["total"]}"')
    currency = row["currency"].upper() or None
    if currency is not None and not (len(currency) == 3 and currency.isalpha()):
        problems.append(f'bad currency "{row["currency"]}" (expected a code like GBP)')
    for column, limit in (("customer_id", 64), ("carrier", 50), ("tracking_number", 64)):
        if len(row[column]) > limit:
            problems.append(f"{column} longer than {limit} characters")
    placed, shipped, delivered = dates["placed_at"], dates["shipped_at"], dates["delivered_at"]
    if placed and shipped and shipped < placed:
        problems.append("bad date: shipped_at is before placed_at")
    sent = shipped or placed
    if delivered and sent and delivered < sent:
        problems.append("bad date: delivered_at is before it was shipped")
    if problems or number is None or placed is None or status is None or total is None or isinstance(items, str):
        return problems
    return OrderRow(
        number=number,
        customer_id=row["customer_id"],
        placed_at=placed,
        status=status,
        items=items,
        total=total,
        currency=currency,
        carrier=row["carrier"] or None,
        tracking_number=row["tracking_number"] or None,
        shipped_at=shipped,
        delivered_at=delivered,
    )
