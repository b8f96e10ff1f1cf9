"""bot/shop/common.py: the values every platform payload carries, read strictly (UpdateRefused says which field)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot.shop import common
from crm.services.shop_sync import LineUpdate, UpdateRefused


def test_timestamps_are_utc_whatever_zone_they_arrive_in() -> None:
    expected = datetime(2024, 1, 1, 15, 0, tzinfo=timezone.utc)
    assert common.timestamp("2024-01-01T10:00:00-05:00", field="created_at") == expected
    assert common.timestamp("2024-01-01T15:00:00Z", field="created_at") == expected
    assert common.timestamp("2024-01-01T15:00:00", field="date_gmt") == expected  # naive is UTC
    assert common.timestamp(None, field="x") is None and common.timestamp("", field="x") is None


@pytest.mark.parametrize(
    ("value", "naive_is_utc", "message"),
    [(1704100000, True, "created_at is not a date"), ("yesterday", True, "not an ISO 8601 date"),
     ("2024-01-01T15:00:00", False, "has no time zone")],
)  # fmt: skip
def test_a_bad_timestamp_is_refused_naming_the_field(value: Any, naive_is_utc: bool, message: str) -> None:
    with pytest.raises(UpdateRefused, match=message):
        common.timestamp(value, field="created_at", naive_is_utc=naive_is_utc)


def test_money_is_two_decimals_and_in_range() -> None:
    assert common.money("19.999", field="total") == Decimal("20.00")
    assert common.money(5, field="total") == Decimal("5.00")
    assert common.money("", field="total") is None
    for bad in ("-1", "1e9", "NaN", "Infinity", "twelve"):
        with pytest.raises(UpdateRefused, match="total"):
            common.money(bad, field="total")


def test_text_ident_and_quantity() -> None:
    assert common.text("  Teapot  ", field="name", limit=3) == "Tea"
    assert common.text("   ", field="name", limit=10) is None and common.text(None, field="name", limit=10) is None
    with pytest.raises(UpdateRefused, match="name is not text"):
        common.text(["x"], field="name", limit=10)
    assert common.ident(1043, field="id") == "1043" and common.ident("  " + "9" * 80, field="id") == "9" * 64
    for missing in (0, "0", "", True, None, 1.5):
        with pytest.raises(UpdateRefused, match="id is missing"):
            common.ident(missing, field="id")
    assert common.quantity(3, field="q") == 3
    for bad in (0, -1, 10_000, True, "2"):
        with pytest.raises(UpdateRefused, match="q is not a positive whole number"):
            common.quantity(bad, field="q")


def test_contact_details_are_normalised_or_none() -> None:
    assert common.email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert common.email(42) is None
    assert common.phone("+44 7700 900123") == "+447700900123"
    assert common.phone("  ") is None and common.phone(None) is None


def test_an_address_is_one_line_of_the_parts_it_has() -> None:
    billing = {"first_name": "Ada", "last_name": "Lovelace", "address_1": "12 Elm Street", "address_2": "",
               "city": "Bristol", "postcode": "BS1 6XY", "country": "GB", "company": None}  # fmt: skip
    assert common.postal_address(billing, streets=("address_1", "address_2"), postcode="postcode") == (
        "Ada Lovelace, 12 Elm Street, Bristol, BS1 6XY, GB"
    )
    assert common.postal_address("12 Elm Street", streets=("a", "b"), postcode="p") is None
    assert common.address(["", None, 7, "x" * 2000]) == ("7, " + "x" * 2000)[:1000]
    assert common.address([None, " "]) is None


def test_line_items_take_the_first_name_they_have() -> None:
    items = [{"title": "Teapot", "quantity": 1, "price": "24.5"}, {"name": "Tea", "title": "x", "quantity": 2}]
    assert common.lines(items, names=("name", "title")) == (
        LineUpdate(name="Teapot", quantity=1, price=Decimal("24.50")),
        LineUpdate(name="Tea", quantity=2, price=None),
    )
    with pytest.raises(UpdateRefused, match="line_items is not a list"):
        common.lines({"name": "Teapot"})
    with pytest.raises(UpdateRefused, match=r"line_items\[0\] is not a JSON object"):
        common.lines(["Teapot"])
    with pytest.raises(UpdateRefused, match=r"line_items\[0\] has no name or title"):
        common.lines([{"quantity": 1}], names=("name", "title"))
    with pytest.raises(UpdateRefused, match=r"line_items\[0\]\.quantity"):
        common.lines([{"name": "Teapot", "quantity": 0}])
