"""bot.staff.insights_tables: one definition of each insights table for the page and the CSV export."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from bot.staff.insights_tables import Column, Table, cell, tables, to_csv
from crm.services.insights import Scope, Window, insights
from crm.services.insights_notices import COUNTS

SCOPE = Scope(Window(date(2026, 11, 2), date(2026, 11, 3), ZoneInfo("Europe/London")))


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (None, "pct", "—"),
        (0.456, "pct", "46%"),
        (-0.25, "chg", "-25%"),
        (0.5, "chg", "+50%"),
        (3.14159, "num", "3.14"),
        (2.25, "min", "2.2"),
        (datetime(2026, 11, 2, 9, 5), "text", "2026-11-02 09:05"),
        (date(2026, 11, 2), "text", "2026-11-02"),
        (12, "int", "12"),
    ],
)
def test_a_cell_reads_as_its_kind(value: object, kind: str, shown: str) -> None:
    assert cell(value, kind) == shown  # type: ignore[arg-type]


def test_the_csv_has_plain_numbers_percent_headers_and_no_formulas() -> None:
    table = Table(
        "t", "T",
        [Column("Comment", "text"), Column("Share", "pct"), Column("Average", "num"), Column("When", "text"), Column("N")],
        [["=HYPERLINK(\"x\")", 0.5, 4.0, date(2026, 11, 2), 3], ["-1 fine", None, None, None, None], ["ok", 1, 2.5, "x", 0]],
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(to_csv(table))))
    assert rows == [
        ["Comment", "Share (%)", "Average", "When", "N"],
        ["'=HYPERLINK(\"x\")", "50.0", "4.00", "2026-11-02", "3"],
        ["'-1 fine", "", "", "", ""],
        ["ok", "100.0", "2.50", "x", "0"],
    ]
    assert to_csv(table).endswith("\r\n")


def test_every_table_is_there_and_its_rows_fit_its_columns(session: Session) -> None:
    found = tables(insights(session, scope=SCOPE))
    assert list(found) == [
        "conversations", "handoff_reasons", "waits_by_hour", "csat", "csat_by_staff", "nps_comments", "requests", "risky_requests",
    ]  # fmt: skip
    assert [row[0] for row in found["csat"].rows] == ["All", "Bot only", "With a person"]
    for table in found.values():
        assert all(len(row) == len(table.columns) for row in table.rows), table.name


def test_admins_also_get_the_notices_table_with_a_total_row(session: Session) -> None:
    ins = insights(session, scope=SCOPE)
    counts = dict.fromkeys(COUNTS, 1)
    day = date(2026, 11, 2)
    rows = [{"day": day, "channel": "sms", **counts}, {"day": day, "channel": None, **counts}]
    summary = {"rows": rows, "totals": dict.fromkeys(COUNTS, 2)}
    notices = tables(dataclasses.replace(ins, extra={"notices": summary}))["notices"]
    assert [row[:3] for row in notices.rows] == [[day, "SMS", 1], [day, "Not sent", 1], ["Total", "", 2]]
    assert [c.title for c in notices.columns][:5] == ["Day", "Channel", "Notices", "Sent", "Deferred (quiet hours)"]
    assert all(len(row) == len(notices.columns) for row in notices.rows)
    empty = {"rows": [], "totals": dict.fromkeys(COUNTS, 0)}
    assert tables(dataclasses.replace(ins, extra={"notices": empty}))["notices"].rows == []
