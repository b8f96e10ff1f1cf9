"""crm.services.notice_rules: time zones, quiet hours across DST, templates, merging."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from crm.services.notice_rules import (
    customer_zone,
    in_quiet_hours,
    items_text,
    local_day_start,
    merge,
    next_allowed,
    render,
)
from crm.shop import Notifications

QUIET = (time(21, 0), time(8, 0))
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("locale", "zone"),
    [("de-DE", "Europe/Berlin"), ("de_AT", "Europe/Vienna"), ("fr", "Europe/Paris"), ("en", "Europe/London"),
     ("en-US", "Europe/London"), ("", "Europe/London"), ("ja", "Asia/Tokyo")],
)
def test_zone_from_locale_country_else_the_shops(locale: str, zone: str) -> None:
    assert customer_zone(locale, "Europe/London") == ZoneInfo(zone)


def test_half_past_eleven_local_waits_for_eight_next_morning() -> None:
    # 22:30 UTC in December is 23:30 in Berlin.
    assert next_allowed(utc(2026, 12, 6, 22, 30), BERLIN, QUIET) == utc(2026, 12, 7, 7, 0)
    # The same instant is 22:30 in London: quiet there too, but morning is an hour later in UTC.
    assert next_allowed(utc(2026, 12, 6, 22, 30), LONDON, QUIET) == utc(2026, 12, 7, 8, 0)


def test_early_morning_waits_for_the_same_days_end() -> None:
    assert next_allowed(utc(2026, 12, 7, 3, 0), LONDON, QUIET) == utc(2026, 12, 7, 8, 0)


def test_daytime_goes_now_and_empty_quiet_hours_never_wait() -> None:
    noon = utc(2026, 12, 7, 12, 0)
    assert next_allowed(noon, LONDON, QUIET) == noon
    assert next_allowed(utc(2026, 12, 7, 23, 0), LONDON, None) == utc(2026, 12, 7, 23, 0)
    assert Notifications(quiet_hours="").quiet_range() is None


def test_spring_forward_night_ends_at_eight_local_summer_time() -> None:
    # Night of 27-28 March 2027 in London: clocks go from 01:00 GMT to 02:00 BST.
    assert next_allowed(utc(2027, 3, 27, 22, 0), LONDON, QUIET) == utc(2027, 3, 28, 7, 0)


def test_autumn_back_night_ends_at_eight_local_winter_time() -> None:
    # Night of 30-31 October 2027: 02:00 BST becomes 01:00 GMT.
    assert next_allowed(utc(2027, 10, 30, 21, 0), LONDON, QUIET) == utc(2027, 10, 31, 8, 0)


def test_a_quiet_end_inside_the_spring_gap_lands_just_after_it() -> None:
    gap = (time(23, 0), time(1, 30))  # 01:30 does not exist in London on 28 March 2027
    allowed = next_allowed(utc(2027, 3, 27, 23, 30), LONDON, gap)
    assert allowed == utc(2027, 3, 28, 1, 30)
    assert not in_quiet_hours(allowed, LONDON, gap)


def test_daytime_quiet_hours_that_do_not_cross_midnight() -> None:
    lunch = (time(12, 0), time(14, 0))
    assert in_quiet_hours(utc(2026, 12, 7, 13, 0), LONDON, lunch)
    assert not in_quiet_hours(utc(2026, 12, 7, 14, 0), LONDON, lunch)
    assert next_allowed(utc(2026, 12, 7, 13, 0), LONDON, lunch) == utc(2026, 12, 7, 14, 0)


def test_the_caps_day_starts_at_local_midnight() -> None:
    assert local_day_start(utc(2026, 12, 6, 23, 30), BERLIN) == utc(2026, 12, 6, 23, 0)
    assert local_day_start(utc(2026, 7, 6, 12, 0), LONDON) == utc(2026, 7, 5, 23, 0)


def test_quiet_hours_setting_is_checked() -> None:
    with pytest.raises(ValueError):
        Notifications(quiet_hours="9pm to 8am")
    with pytest.raises(ValueError):
        Notifications(templates={"shiped": "typo"})
    assert Notifications(templates={"shipped": "Off it goes: #{number}"}).templates["delivered"]


def test_templates_fill_the_fields_and_leave_unknown_ones_out() -> None:
    text = render("#{number} with {carrier}: {tracking_link} {nonsense}", {"number": "1001", "carrier": "DHL",
                                                                            "tracking_link": "https://t/1"})
    assert text == "#1001 with DHL: https://t/1"
    assert render("a stray { brace", {}) == "a stray { brace"
    assert items_text([("Tea", 2), ("Mug", 1), ("Pot", 1), ("Cosy", 1)]) == "2 × Tea, Mug, Pot, 1 more"


def test_merging_keeps_the_latest_news_per_order() -> None:
    text = merge([("1001", "shipped", "1001 shipped"), ("1002", "shipped", "1002 shipped"),
                  ("1001", "delivered", "1001 delivered")])
    assert text == "1001 delivered\n\n1002 shipped"
