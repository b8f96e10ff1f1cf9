"""The shop profile (shop.yml): facts the owner edits without touching code."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crm.settings import get_settings, stripped_blank_or_matching

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")


class _Strict(BaseModel):
    # A typo in shop.yml ("windows_days") should fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeRange(_Strict):
    open: time
    close: time

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.close <= self.open:
            raise ValueError(f"closing time {self.close} is not after opening time {self.open}")
        return self

    def __str__(self) -> str:
        return f"{self.open:%H:%M}–{self.close:%H:%M}"


def _parse_day(value: object) -> object:
    """ "09:00-17:30", "09:00-12:00, 13:00-17:00", "closed" -> list of ranges."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "closed"):
        return []
    if not isinstance(value, str):
        return value
    ranges = []
    for part in value.split(","):
        match = _RANGE.match(part.strip())
        if match is None:
            raise ValueError(f'"{part.strip()}" is not a range like "09:00-17:30" or "closed"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        ranges.append({"open": time(h1, m1), "close": time(h2, m2)})
    return ranges


DayHours = Annotated[list[TimeRange], BeforeValidator(_parse_day)]


class Holiday(_Strict):
    date: date
    name: str


class OpeningHours(_Strict):
    timezone: str = "Europe/London"
    weekly: dict[Weekday, DayHours]
    holidays: list[Holiday] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def holiday_on(self, day: date) -> Holiday | None:
        return next((h for h in self.holidays if h.date == day), None)

    def ranges_on(self, day: date) -> list[TimeRange]:
        if self.holiday_on(day) is not None:
            return []
        return list(self.weekly.get(WEEKDAYS[day.weekday()], []))


class Contact(_Strict):
    email: str
    phone: str
    hours: str
    address: str = ""


class DeliveryOption(_Strict):
    name: str
    price: Decimal
    min_days: int
    max_days: int
    note: str = ""


class Delivery(_Strict):
    options: list[DeliveryOption]
    countries: list[str]
    free_shipping_threshold: Decimal | None = None
    dispatch: str = ""


class Returns(_Strict):
    window_days: int = Field(ge=0)
    condition: str
    return_shipping: str
    refund_business_days: int = Field(ge=0)
    cancellation: str


class Payment(_Strict):
    methods: list[str]
    issue_advice: str


DEFAULT_TEMPLATES: dict[str, str] = {
    "shipped": "Good news: your order #{number} ({items}) is on its way with {carrier}. "
    "Tracking number {tracking_number}: {tracking_link}",
    "out_for_delivery": "Your order #{number} ({items}) is out for delivery today with {carrier}.",
    "delivered": "Your order #{number} ({items}) has been delivered. Enjoy it!",
    "delayed": "Your order #{number} ({items}) is taking longer than it should: {carrier} has had no news "
    "of it for {days} days. We're looking into it; reply here if you'd like help.",
    "refunded": "The refund for your order #{number} has gone through. It can take a few days to show.",
}


class Notifications(_Strict):
    """Order notices the shop sends first: when, how often, and in which words."""

    # "21:00-08:00" in the customer's time zone; "" turns quiet hours off.
    quiet_hours: str = "21:00-08:00"
    daily_cap: int = Field(default=3, ge=1)
    # Changes closer together than this become one message.
    merge_minutes: int = Field(default=10, ge=0)
    # A parcel with no news from the carrier for this many days is "delayed".
    stuck_after_days: int = Field(default=5, ge=1)
    # {tracking_number} is replaced; used when the platform sends no tracking link.
    tracking_urls: dict[str, str] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TEMPLATES))

    _quiet_range = stripped_blank_or_matching(
        "quiet_hours",
        pattern=r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d",
        problem='quiet_hours must look like "21:00-08:00", or be empty',
    )

    @field_validator("templates")
    @classmethod
    def _all_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DEFAULT_TEMPLATES)
        if unknown:
            raise ValueError(f"unknown notice templates: {sorted(unknown)}")
        return {**DEFAULT_TEMPLATES, **value}

    def quiet_range(self) -> tuple[time, time] | None:
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)


class ShopProfile(_Strict):
    name: str
    tagline: str = ""
    website: str
    currency: str = Field(default="GBP", min_length=3, max_length=3)
    contact: Contact
    opening_hours: OpeningHours
    delivery: Delivery
    returns: Returns
    payment: Payment
    account_help: str
    how_to_order: str
    newsletter: str
    notifications: Notifications = Field(default_factory=Notifications)

    def is_open(self, now: datetime) -> bool:
        """Whether the team is in right now. Naive datetimes are taken as UTC."""
        local = _aware(now).astimezone(self.opening_hours.tz)
        wall = local.time().replace(tzinfo=None)
        return any(r.open <= wall < r.close for r in self.opening_hours.ranges_on(local.date()))

    def next_opening(self, now: datetime) -> datetime:
        """When the team is next in, in the shop's time zone: `now` itself if open."""
        tz = self.opening_hours.tz
        local = _aware(now).astimezone(tz)
        if self.is_open(local):
            return local
        # A year is more than any real closure; beyond that the profile is broken.
        for offset in range(0, 367):
            day = local.date() + timedelta(days=offset)
            for r in sorted(self.opening_hours.ranges_on(day), key=lambda r: r.open):
                opening = datetime.combine(day, r.open, tzinfo=tz)
                if opening > local:
                    return opening
        raise ValueError("the shop profile has no opening hours in the coming year")

    def when_back(self, now: datetime) -> str | None:
        """When the team is back, in words: None while it is in; otherwise "today at
        09:00", "tomorrow at 10:00", "on Monday at 09:00", "on Friday 2 January at 09:00".
        Naive datetimes are taken as UTC. The one answer for the gateway and the actions."""
        if self.is_open(now):
            return None
        opening = self.next_opening(now)
        today = _aware(now).astimezone(opening.tzinfo).date()
        clock = f"{opening:%H:%M}"
        if opening.date() == today:
            return f"today at {clock}"
        if opening.date() == today + timedelta(days=1):
            return f"tomorrow at {clock}"
        if opening.date() < today + timedelta(days=7):
            return f"on {opening:%A} at {clock}"
        return f"on {opening:%A} {opening.day} {opening:%B} at {clock}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


class ShopProfileError(ValueError):
    """shop.yml is missing or does not describe a shop; the message says where."""


def load_shop_profile(path: Path | str | None = None) -> ShopProfile:
    """The profile at `path` (default: settings.shop_profile), re-read when the file changes."""
    resolved = Path(path) if path is not None else get_settings().shop_profile
    try:
        mtime = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise ShopProfileError(f"cannot read shop profile {resolved}: {exc.strerror}") from exc
    return _load(str(resolved.resolve()), mtime)


@lru_cache(maxsize=8)
def _load(path: str, _mtime_ns: int) -> ShopProfile:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ShopProfileError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ShopProfileError(f"{path} does not describe a shop (expected a mapping)")
    try:
        return ShopProfile.model_validate(data)
    except ValueError as exc:
        raise ShopProfileError(f"{path}: {exc}") from exc
