"""Property-based: any CSV a shop (or a spreadsheet) produces is imported or
reported row by row; nothing raises and no half-written row is stored."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.import_rows import CUSTOMER_COLUMNS, ORDER_COLUMNS
from crm.importer import import_customers, import_orders
from crm.models import Customer, Order, OrderLine

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

junk = st.text(max_size=30)
ids = st.sampled_from(["C001", "C002", "c001", " C003 ", "", "C" + "9" * 60]) | junk
cells: dict[str, st.SearchStrategy[str]] = {
    "customer_id": ids,
    "first_name": st.sampled_from(["Ada", "", "  ", "Zoë", "O'Brien"]) | junk,
    "last_name": junk,
    "email": st.sampled_from(["ada@example.com", "ADA@EXAMPLE.COM", "not-an-email", "a@b", ""]) | junk,
    "phone": st.sampled_from(["+447700900123", "07700 900123", "00447700900123", "123", ""]) | junk,
    "telegram_user_id": st.sampled_from(["", "123456", "-5", "1" * 30]) | junk,
    "locale": st.sampled_from(["en", "en-GB", "fr_FR", "xx-yy-zz", ""]) | junk,
    "marketing_opt_in": st.sampled_from(["yes", "no", "x", "", "maybe"]) | junk,
    "order_updates_opt_in": st.sampled_from(["true", "false", "yes", "", "perhaps"]) | junk,
    "order_number": st.sampled_from(["1043", "#1043", "JO-1043", "0", "", "1" * 20]) | junk,
    "placed_at": st.sampled_from(["2025-01-09 17:55", "2025-02-30", "yesterday", "2025-01-09T10:00Z", ""]) | junk,
    "status": st.sampled_from(["delivered", "paid", "shipped", "cancelled", "lost", ""]) | junk,
    "items": st.sampled_from(["1x Mug @ 14.00", "2x Tea; 1x Pot", "0x Mug", "Mug", "1x @ 5", ""]) | junk,
    "total": st.sampled_from(["14.00", "-1", "1e9", "abc", "", "14,00"]) | junk,
    "currency": st.sampled_from(["GBP", "EUR", "gbp", "XXXX", ""]) | junk,
    "carrier": junk,
    "tracking_number": junk,
    "shipped_at": st.sampled_from(["", "2025-01-10 15:31", "never"]) | junk,
    "delivered_at": st.sampled_from(["", "2025-01-13 10:10", "2020-01-01"]) | junk,
}


def csv_text(columns: tuple[str, ...], rows: list[dict[str, str]], extra_header: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*columns, *extra_header])
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def rows_of(columns: tuple[str, ...]) -> st.SearchStrategy[list[dict[str, str]]]:
    return st.lists(st.fixed_dictionaries({c: cells[c] for c in columns}), max_size=6)


def assert_whole(session: Session) -> None:
    for customer in session.scalars(select(Customer)):
        assert customer.external_id.strip() and customer.first_name.strip(), customer.id
    for order in session.scalars(select(Order)):
        lines = session.scalar(select(func.count(OrderLine.id)).where(OrderLine.order_id == order.id))
        assert order.customer_id is not None and lines, order.number


def run_import(session: Session, path: Path, text: str, kind: str) -> Any:
    path.write_text(text, encoding="utf-8")
    with session.begin_nested():
        report = (import_customers if kind == "customers" else import_orders)(session, path)
    # Every data row is accounted for: accepted or rejected with a reason.
    data_rows = max(0, len(list(csv.reader(io.StringIO(text)))) - 1)
    assert report.accepted + len(report.rejected) >= min(data_rows, 1) or data_rows == 0
    assert all(problem.reason for problem in report.rejected)
    assert_whole(session)
    return report


def test_any_customers_csv_is_imported_or_reported(session: Session, tmp_path: Path) -> None:
    @FUZZ
    @given(rows=rows_of(CUSTOMER_COLUMNS), extra=st.lists(junk, max_size=2))
    def run(rows: list[dict[str, str]], extra: list[str]) -> None:
        run_import(session, tmp_path / "customers.csv", csv_text(CUSTOMER_COLUMNS, rows, extra), "customers")

    run()


def test_any_orders_csv_is_imported_or_reported(session: Session, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,first_name\nC001,Ada\nC002,Oliver\n", encoding="utf-8")
    import_customers(session, customers)

    @FUZZ
    @given(rows=rows_of(ORDER_COLUMNS), extra=st.lists(junk, max_size=2))
    def run(rows: list[dict[str, str]], extra: list[str]) -> None:
        run_import(session, tmp_path / "orders.csv", csv_text(ORDER_COLUMNS, rows, extra), "orders")

    run()


@pytest.mark.parametrize("kind", ["customers", "orders"])
def test_any_bytes_as_a_csv_file_are_reported_not_raised(session: Session, tmp_path: Path, kind: str) -> None:
    @FUZZ
    @given(raw=st.binary(max_size=300))
    def run(raw: bytes) -> None:
        path = tmp_path / f"{kind}.csv"
        path.write_bytes(raw)
        with session.begin_nested():
            report = (import_customers if kind == "customers" else import_orders)(session, path)
        assert report.accepted == 0 or raw
        assert_whole(session)

    run()
