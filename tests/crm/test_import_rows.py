"""crm.import_rows: dates and item cells as shops write them."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm.import_rows import parse_datetime, parse_items
from tests.timing import ADVERSARIAL, assert_linear

UTC = timezone.utc


def test_parse_items_merges_repeats() -> None:
    items = parse_items("2x Mug; 1x mug @ 3.50; 1 × Tea;")
    assert not isinstance(items, str)
    assert [(i.name, i.quantity, i.price) for i in items] == [("Mug", 3, Decimal("3.50")), ("Tea", 1, None)]
    assert parse_items("") == "no items"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-05-01", datetime(2026, 4, 30, 23, 0, tzinfo=UTC)),
        ("2026-05-01T10:00", datetime(2026, 5, 1, 9, 0, tzinfo=UTC)),
        ("2026-05-01 10:00:30", datetime(2026, 5, 1, 9, 0, 30, tzinfo=UTC)),
        ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, 0, tzinfo=UTC)),
        ("2026-05-01T10:00:00+02:00", datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
        ("1/5/2026", None),
        ("yesterday", None),
        ("2026-02-30", None),
    ],
)
def test_parse_datetime(raw: str, expected: datetime | None) -> None:
    assert parse_datetime(raw, tz=ZoneInfo("Europe/London")) == expected


def test_parse_items_reads_prices_at_the_last_at_sign() -> None:
    items = parse_items("2x Mug @ 3.50; 1x Tea @ home @ 4; 1x @ 5")
    assert not isinstance(items, str)
    assert [(i.name, i.quantity, i.price) for i in items] == [
        ("Mug", 2, Decimal("3.50")),
        ("Tea @ home", 1, Decimal("4")),
        ("@ 5", 1, None),
    ]


def test_parse_items_takes_linear_time_on_a_hostile_cell() -> None:
    # The old pattern (a lazy name, then optional "@ price") was quadratic in a cell's length.
    assert_linear(parse_items, [lambda n: "1x a" + " " * n + "b", lambda n: "1x" + " @" * (n // 2)] + ADVERSARIAL)
