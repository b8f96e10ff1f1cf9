"""The insights page's tables: one definition serves the HTML page and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from crm.services.insights import Insights
from crm.services.insights_notices import OTHER, SUPPRESSED

CHANNEL_NAMES = {"web": "Website", "telegram": "Telegram", "sms": "SMS", "shell": "Shell"}
Kind = Literal["text", "int", "pct", "chg", "num", "min"]


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = "int"


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _csat_columns(first: str) -> list[Column]:
    """A CSAT table's columns: who or what the row is about, then its ratings."""
    return [
        Column(first, "text"),
        Column("Ratings"),
        Column("Satisfied (4–5)", "pct"),
        Column("Average (1–5)", "num"),
    ]


def _csat_row(label: str, stats: dict[str, Any]) -> list[Any]:
    return [label, stats["count"], stats["satisfied"], stats["average"]]


def tables(ins: Insights) -> dict[str, Table]:
    found = [
        Table(
            "conversations",
            "Conversations per day and channel",
            [Column("Day", "text"), *[Column(CHANNEL_NAMES.get(c, c)) for c in ins.channels],
             Column("Total")],
            [[r["day"], *[r[c] for c in ins.channels], r["total"]] for r in ins.per_day],
        ),
        Table(
            "handoff_reasons",
            "Why conversations went to a person",
            [Column("Reason", "text"), Column("Handoffs"), Column("Share of handoffs", "pct")],
            [
                [label, n, n / sum(x[2] for x in ins.reasons)]
                for _, label, n in ins.reasons
            ],
        ),
        Table(
            "waits_by_hour",
            "Wait for a person by hour of day (shop time)",
            [Column("Hour", "text"), Column("Handoffs"), Column("Median wait (min)", "min"),
             Column("90th percentile wait (min)", "min")],
            [[f"{r['hour']:02d}:00", r["handoffs"], _minutes(r["wait_median"]), _minutes(r["wait_p90"])]
             for r in ins.by_hour],
        ),  # fmt: skip
        Table(
            "csat",
            "Customer satisfaction (CSAT), bot only vs with a person",
            _csat_columns("Conversations"),
            [_csat_row(label, ins.csat[key])
             for key, label in (("all", "All"), ("bot", "Bot only"), ("person", "With a person"))],
        ),  # fmt: skip
        Table(
            "csat_by_staff",
            "CSAT per staff member",
            _csat_columns("Staff member"),
            [_csat_row(r["name"], r) for r in ins.csat_by_staff],
        ),
        Table(
            "nps_comments",
            "What customers said with their NPS score",
            [Column("When", "text"), Column("Score"), Column("Channel", "text"), Column("Comment", "text")],
            [[c["at"], c["score"], c["channel"], c["comment"]] for c in ins.nps_comments],
        ),
        Table(
            "requests",
            "Top requests",
            [Column("Request", "text"), Column("Messages"), Column("Previous period"),
             Column("Change", "chg")],
            [[r["intent"], r["count"], r["previous"], r["change"]] for r in ins.requests],
        ),
        Table(
            "risky_requests",
            "Requests most often followed by a handoff or a low rating",
            [Column("Request", "text"), Column("Conversations"), Column("Handed to a person"),
             Column("Low ratings (1–2)"), Column("Share", "pct")],
            [[r["intent"], r["conversations"], r["handoffs"], r["low_ratings"], r["share"]]
             for r in ins.risky],
        ),  # fmt: skip
    ]
    if "notices" in ins.extra:  # admins only
        found.append(_notices(ins.extra["notices"]))
    return {t.name: t for t in found}


def _notices(summary: dict[str, Any]) -> Table:
    keys = ["notices", "sent", "deferred", *SUPPRESSED, OTHER, "dead", "waiting", "replied"]
    titles = ["Notices", "Sent", "Deferred (quiet hours)",
              *[f"Suppressed: {v.lower()}" for v in SUPPRESSED.values()],
              "Suppressed: other", "Failed", "Waiting", "Replied to"]  # fmt: skip
    rows = [
        [r["day"], CHANNEL_NAMES.get(r["channel"], r["channel"]) if r["channel"] else "Not sent",
         *[r[k] for k in keys]]
        for r in summary["rows"]
    ]  # fmt: skip
    if rows:
        rows.append(["Total", "", *[summary["totals"][k] for k in keys]])
    return Table(
        "notices",
        "Order notices per day and channel",
        [Column("Day", "text"), Column("Channel", "text"), *[Column(t) for t in titles]],
        rows,
    )


# How a number of each kind reads on the page ("text" and "int" read as they are).
_ON_PAGE: dict[str, Callable[[Any], str]] = {
    "pct": lambda value: f"{value * 100:.0f}%",
    "chg": lambda value: f"{value * 100:+.0f}%",
    "num": lambda value: f"{value:.2f}",
    "min": lambda value: f"{value:.1f}",
}


def cell(value: Any, kind: Kind) -> str:
    """How a value reads on the page."""
    if value is None:
        return "—"
    if kind in _ON_PAGE:
        return _ON_PAGE[kind](value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_value(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind in ("pct", "chg"):
        return f"{value * 100:.1f}"
    if kind in ("num", "min"):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    # A comment that starts like a formula must not run as one in a spreadsheet.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.title + (" (%)" if c.kind in ("pct", "chg") else "") for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return out.getvalue()
