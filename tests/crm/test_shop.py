"""crm.shop: the shop profile and its opening hours."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm.settings import PROJECT_ROOT
from crm.shop import ShopProfile, ShopProfileError, load_shop_profile

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def profile() -> ShopProfile:
    return load_shop_profile(PROJECT_ROOT / "shop.yml")


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def test_the_shipped_profile_describes_juniper_and_oak(profile: ShopProfile) -> None:
    assert profile.name == "Juniper & Oak"
    assert profile.opening_hours.timezone == "Europe/London"
    assert profile.returns.window_days == 30
    assert profile.returns.refund_business_days > 0
    assert profile.delivery.options and profile.delivery.free_shipping_threshold is not None
    assert "GB" in profile.delivery.countries
    assert profile.payment.methods and profile.payment.issue_advice
    assert profile.contact.email and profile.contact.phone and profile.contact.hours
    assert profile.account_help and profile.how_to_order and profile.newsletter
    assert profile.opening_hours.weekly["sun"] == []
    assert [str(r) for r in profile.opening_hours.weekly["sat"]] == ["10:00–14:00"]
    assert profile.opening_hours.holiday_on(datetime(2026, 12, 25).date()).name == "Christmas Day"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (london(2027, 1, 13, 8, 59), False),  # Wednesday, before opening
        (london(2027, 1, 13, 9, 0), True),
        (london(2027, 1, 13, 17, 29), True),
        (london(2027, 1, 13, 17, 30), False),  # closing time is closed
        (london(2027, 1, 16, 13, 0), True),  # Saturday
        (london(2027, 1, 16, 14, 30), False),
        (london(2027, 1, 17, 12, 0), False),  # Sunday
        (london(2027, 3, 26, 12, 0), False),  # Good Friday
        (london(2027, 7, 14, 9, 15), True),  # summer time
        (datetime(2027, 7, 14, 8, 15, tzinfo=timezone.utc), True),  # = 09:15 BST
        (datetime(2027, 7, 14, 7, 59, tzinfo=timezone.utc), False),  # = 08:59 BST
        (datetime(2027, 1, 13, 8, 15), False),  # naive is UTC: 08:15 GMT
    ],
)
def test_is_open(profile: ShopProfile, when: datetime, is_open: bool) -> None:
    assert profile.is_open(when) is is_open


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (london(2027, 1, 13, 12, 0), london(2027, 1, 13, 12, 0)),  # open: now
        (london(2027, 1, 13, 7, 0), london(2027, 1, 13, 9, 0)),
        (london(2027, 1, 15, 18, 0), london(2027, 1, 16, 10, 0)),  # Friday evening -> Saturday
        (london(2027, 1, 16, 14, 0), london(2027, 1, 18, 9, 0)),  # Saturday afternoon -> Monday
        (london(2026, 12, 23, 18, 0), london(2026, 12, 26, 10, 0)),  # over Christmas Eve and Day
        (london(2027, 3, 25, 18, 0), london(2027, 3, 27, 10, 0)),  # Easter: Good Friday closed
        (london(2027, 3, 27, 15, 0), london(2027, 3, 30, 9, 0)),  # Easter Monday closed
    ],
)
def test_next_opening(profile: ShopProfile, now: datetime, expected: datetime) -> None:
    opening = profile.next_opening(now)
    assert opening == expected
    assert opening.utcoffset() == expected.utcoffset()
    assert profile.is_open(opening)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc), None),
        (datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc), "tomorrow at 09:00"),
        (datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc), "today at 09:00"),
        (datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc), "on Monday at 09:00"),
        # Christmas Eve and Day are holidays; Boxing Day is a Saturday.
        (datetime(2026, 12, 23, 18, 0, tzinfo=timezone.utc), "on Saturday at 10:00"),
        # Naive is UTC (the gateway's clock and the action server's agree).
        (datetime(2026, 11, 29, 12, 0), "tomorrow at 09:00"),
    ],
)
def test_when_back(profile: ShopProfile, now: datetime, expected: str | None) -> None:
    # Moved from tests/actions/test_handoff.py: the gateway and the actions share this answer.
    assert profile.when_back(now) == expected


def test_next_opening_of_a_shop_that_never_opens(profile: ShopProfile) -> None:
    never = profile.model_copy(
        update={"opening_hours": profile.opening_hours.model_copy(update={"weekly": {}})}
    )
    with pytest.raises(ValueError):
        never.next_opening(london(2027, 1, 13, 12, 0))


def test_profile_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "shop.yml"
    shutil.copy(PROJECT_ROOT / "shop.yml", path)
    first = load_shop_profile(path)
    assert load_shop_profile(path) is first
    path.write_text(path.read_text(encoding="utf-8").replace("name: Juniper & Oak", "name: Birch & Co"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_shop_profile(str(path)).name == "Birch & Co"


def test_default_path_comes_from_the_settings() -> None:
    assert load_shop_profile() is load_shop_profile(PROJECT_ROOT / "shop.yml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("window_days: 30", "windows_days: 30"), "windows_days"),
        (('mon: "09:00-17:30"', 'mon: "9 to 5"'), "9 to 5"),
        (('tue: "09:00-17:30"', 'tue: "17:30-09:00"'), "not after"),
        (("timezone: Europe/London", "timezone: Mars/Olympus"), "Mars/Olympus"),
        (("window_days: 30", "window_days: -1"), "window_days"),
    ],
)
def test_a_broken_profile_says_what_is_wrong(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = (PROJECT_ROOT / "shop.yml").read_text(encoding="utf-8")
    assert change[0] in text
    path = tmp_path / "shop.yml"
    path.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    with pytest.raises(ShopProfileError, match=message):
        load_shop_profile(path)


def test_missing_or_unparseable_profile(tmp_path: Path) -> None:
    with pytest.raises(ShopProfileError, match="cannot read"):
        load_shop_profile(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed", encoding="utf-8")
    with pytest.raises(ShopProfileError, match="not valid YAML"):
        load_shop_profile(bad)
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ShopProfileError, match="mapping"):
        load_shop_profile(bad)


def test_several_ranges_in_a_day(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "shop.yml").read_text(encoding="utf-8")
    path = tmp_path / "shop.yml"
    path.write_text(text.replace('wed: "09:00-17:30"', 'wed: "09:00-12:00, 13:00-17:00"'), encoding="utf-8")
    profile = load_shop_profile(path)
    assert [(r.open, r.close) for r in profile.opening_hours.weekly["wed"]] == [(time(9), time(12)), (time(13), time(17))]
    assert profile.is_open(london(2027, 1, 13, 12, 30)) is False
    assert profile.next_opening(london(2027, 1, 13, 12, 30)) == london(2027, 1, 13, 13, 0)
