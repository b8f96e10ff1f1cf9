"""crm.services.shop_updates: the neutral shape every shop platform is translated into."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from crm.services import shop_sync
from crm.services.shop_updates import (
    CustomerUpdate,
    IncomingEvent,
    LineUpdate,
    OrderUpdate,
    SyncResult,
    UpdateRefused,
)


def test_an_update_says_nothing_it_was_not_told() -> None:
    update = OrderUpdate(number="1043")
    said = {f.name: getattr(update, f.name) for f in dataclasses.fields(update)}
    assert {name for name, value in said.items() if value not in (None, False)} == {"number"}
    assert CustomerUpdate(external_id="C1").marketing_opt_in is None
    assert CustomerUpdate(external_id="C1").order_updates_opt_in is None
    assert LineUpdate("Blue Mug", 2).price is None


def test_updates_and_events_are_values_that_cannot_be_changed_on_the_way() -> None:
    at = datetime(2026, 5, 1, tzinfo=timezone.utc)
    update = OrderUpdate(number="1043", updated_at=at, lines=(LineUpdate("Mug", 1, Decimal("14.00")),))
    assert update == OrderUpdate(number="1043", updated_at=at, lines=(LineUpdate("Mug", 1, Decimal("14.00")),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.number = "9999"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        IncomingEvent("api", "k1", "orders/create", None).topic = "x"  # type: ignore[misc]


def test_a_result_starts_with_nothing_settled_and_each_has_its_own_list() -> None:
    first, second = SyncResult("applied"), SyncResult("duplicate")
    first.settled.append(7)
    assert (first.subject, first.order, first.settled, second.settled) == ("", None, [7], [])


def test_a_refusal_is_a_value_error_and_the_names_stay_importable_from_shop_sync() -> None:
    assert issubclass(UpdateRefused, ValueError)
    for name in ("CustomerUpdate", "IncomingEvent", "LineUpdate", "OrderUpdate", "SyncResult", "UpdateRefused"):
        assert getattr(shop_sync, name) is globals()[name]
