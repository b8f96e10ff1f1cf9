"""The arithmetic of order notices, free of the database: time zones, quiet
hours, the daily cap's day, templates and merging.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A customer's country from their locale ("de-AT" -> AT, "fr" -> FR). Only
# countries with one time zone, or one most customers live in; everyone else
# gets the shop's zone, which is where most of a small shop's customers are.
_ZONES = {
    "GB": "Europe/London", "IE": "Europe/Dublin", "FR": "Europe/Paris", "DE": "Europe/Berlin",
    "AT": "Europe/Vienna", "CH": "Europe/Zurich", "NL": "Europe/Amsterdam", "BE": "Europe/Brussels",
    "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "IT": "Europe/Rome", "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo", "DK": "Europe/Copenhagen", "FI": "Europe/Helsinki", "PL": "Europe/Warsaw",
    "CZ": "Europe/Prague", "GR": "Europe/Athens", "NZ": "Pacific/Auckland", "JP": "Asia/Tokyo",
}
# A bare language names its main country.
_LANGUAGE_COUNTRY = {
    "de": "DE", "fr": "FR", "es": "ES", "it": "IT", "nl": "NL", "pt": "PT", "sv": "SE", "da": "DK",
    "nb": "NO", "fi": "FI", "pl": "PL", "cs": "CZ", "el": "GR", "ja": "JP",
}


def customer_zone(locale: str | None, shop_zone: str) -> ZoneInfo:
    """The customer's zone from their locale's country, else the shop's."""
    text = (locale or "").replace("_", "-").strip()
    language, _, region = text.partition("-")
    country = region.upper() if len(region) == 2 else _LANGUAGE_COUNTRY.get(language.lower(), "")
    try:
        return ZoneInfo(_ZONES.get(country, shop_zone))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone` as a real instant: a time the clocks skipped
    (the spring change) is read with the offset before the change, which
    lands just after the gap."""
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone).astimezone(timezone.utc).astimezone(zone)


def in_quiet_hours(now: datetime, zone: ZoneInfo, quiet: tuple[time, time] | None) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    wall = now.astimezone(zone).time().replace(tzinfo=None)
    if start <= end:
        return start <= wall < end
    return wall >= start or wall < end


def next_allowed(now: datetime, zone: ZoneInfo, quiet: tuple[time, time] | None) -> datetime:
    """`now` if a notice may go now, else the end of the quiet hours (UTC)."""
    now = now.astimezone(timezone.utc)
    if not in_quiet_hours(now, zone, quiet):
        return now
    assert quiet is not None
    start, end = quiet
    local = now.astimezone(zone)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += timedelta(days=1)  # 23:30 waits for tomorrow's end
    return _wall(day, end, zone).astimezone(timezone.utc)


def local_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of the customer's today, in UTC: the daily cap counts from here."""
    local = now.astimezone(zone)
    return _wall(local.date(), time(0, 0), zone).astimezone(timezone.utc)


class _Blank(dict[str, Any]):
    # An owner's template naming a field we don't have renders it empty, not a crash.
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, fields: Mapping[str, Any]) -> str:
    """The template with its {fields}; unknown fields are left out."""
    formatter = string.Formatter()
    try:
        text = formatter.vformat(template, (), _Blank(fields))
    except (ValueError, IndexError):
        # A stray brace in an owner's template: send it as written rather than nothing.
        text = template
    return " ".join(text.split())


def items_text(lines: Sequence[tuple[str, int]], *, most: int = 3) -> str:
    parts = [f"{q} × {name}" if q > 1 else name for name, q in lines[:most]]
    if len(lines) > most:
        parts.append(f"{len(lines) - most} more")
    return ", ".join(parts)


# Later news about one order makes earlier news of the same batch moot.
_PROGRESS = {"shipped": 1, "out_for_delivery": 2, "delayed": 2, "delivered": 3, "refunded": 4}


def merge(parts: Sequence[tuple[str, str, str]]) -> str:
    """One message from several (order number, kind, text), oldest first: per
    order only the latest stage, orders in the order their news came."""
    latest: dict[str, tuple[str, str]] = {}
    for number, kind, text in parts:
        kept = latest.get(number)
        if kept is None or _PROGRESS.get(kind, 0) >= _PROGRESS.get(kept[0], 0):
            latest[number] = (kind, text)
    return "\n\n".join(text for _, text in latest.values())
