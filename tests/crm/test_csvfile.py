"""crm.csvfile: CSV files as shops save them (BOM, ";", header case, quoted lines), and the import report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm.csvfile import CsvFileError, ImportReport, Record, RowProblem, read_records
from crm.importer import import_customers, import_orders
from crm.models import Customer, OrderStatus
from tests.crm.import_support import CUSTOMER_HEADER, ORDER_HEADER, count, customer, order, write

COLUMNS = ("id", "name", "note")


def test_records_are_stripped_keyed_by_column_and_keep_the_line_they_start_on(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", " ID ; Name ;extra", " 1 ; Ann ; ignored", "", '2;"Bo', 'Lee";', "3;Cy")
    assert list(read_records(path, COLUMNS, ("id",))) == [
        Record(2, {"id": "1", "name": "Ann", "note": ""}),
        Record(4, {"id": "2", "name": "Bo\nLee", "note": ""}),
        Record(6, {"id": "3", "name": "Cy", "note": ""}),
    ]


def test_a_row_with_surplus_values_or_a_nul_is_a_record_with_its_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "id,name", "1,Ann,,", "2,Bo,x", "3,C\x00y")
    records = list(read_records(path, COLUMNS, ("id",)))
    assert [(r.line, r.problem) for r in records] == [
        (2, None),  # empty surplus cells are harmless
        (3, "3 values but the header has 2 columns (a comma inside a value needs quotes)"),
        (4, "a value contains a NUL character"),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"name\nAnn\n", "missing column(s) id; expected a header like: id,name,note"),
        (b"id,name,ID\n1,a,1\n", "column(s) id appear more than once in the header"),
        (b"id,name\n1,Ann\n2,Jos\xe9\n", 'line 3 is not UTF-8 text; save the file as "CSV UTF-8" and import it again'),
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_says_why(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(CsvFileError) as raised:
        list(read_records(path, COLUMNS, ("id",)))
    assert str(raised.value) == reason


def test_the_report_counts_rows_and_names_where_each_problem_is() -> None:
    report = ImportReport(file="orders.csv")
    report.count(created=True, changed=True)
    report.count(created=False, changed=True)
    report.count(created=False, changed=False)
    report.count(created=False, changed=False)
    report.reject(7, "bad total")
    report.reject(0, "the file is empty")
    report.warn(3, "kept cancelled")
    assert (report.imported, report.updated, report.unchanged, report.accepted) == (1, 1, 2, 4)
    assert report.summary() == "orders.csv: 1 imported, 1 updated, 2 unchanged, 2 rejected"
    assert [str(p) for p in report.rejected] == ["orders.csv:7: bad total", "orders.csv: the file is empty"]
    assert report.warnings == [RowProblem("orders.csv", 3, "kept cancelled")]


def test_bom_whitespace_semicolons_and_header_case(session: Session, tmp_path: Path) -> None:
    customers = write(
        tmp_path,
        "excel.csv",
        " Customer ID ; First Name ;Last_Name; EMAIL ;phone;telegram_user_id;locale;marketing_opt_in;notes",
        "  B1 ;  Émile  ; Zola ;  EMILE@example.org  ; 07700 900903 ;  ; fr ; Y ; anything",
        "",
        "   ;   ;  ;  ;  ;  ;  ;  ;  ",
        "B2;Ann;Lee;ann@example.org;;;;;",
        bom=True,
    )
    report = import_customers(session, customers)
    assert report.rejected == []
    assert report.imported == 2
    emile = customer(session, "B1")
    assert (emile.first_name, emile.last_name, emile.email, emile.phone, emile.locale, emile.marketing_opt_in) == (
        "Émile", "Zola", "emile@example.org", "+447700900903", "fr", True,
    )
    orders = write(
        tmp_path,
        "excel-orders.csv",
        ORDER_HEADER.upper(),
        ' 3001 , B1 , 2026-03-03 , Delivered , " 1x  Blue   Mug ;  2 x Tea " , £ 20.00 , gbp ,  ,  ,  , ',
        bom=True,
    )
    report = import_orders(session, orders)
    assert report.rejected == [] and report.imported == 1
    imported = order(session, "3001")
    assert imported.status == OrderStatus.delivered and imported.currency == "GBP" and imported.total == Decimal("20.00")
    assert [(l.product.name, l.quantity) for l in imported.lines] == [("Blue Mug", 1), ("Tea", 2)]


def test_file_level_problems_reject_the_file_with_a_reason(session: Session, tmp_path: Path) -> None:
    missing_column = write(tmp_path, "a.csv", "customer_id,last_name", "C1,Smith")
    report = import_customers(session, missing_column)
    assert [(p.line, p.reason) for p in report.rejected] == [
        (0, f"missing column(s) first_name; expected a header like: {'customer_id,first_name,last_name,email,phone,telegram_user_id,locale,marketing_opt_in,order_updates_opt_in'}")
    ]
    latin1 = write(tmp_path, "b.csv", CUSTOMER_HEADER, "C1,José,García,,,,,", encoding="latin-1")
    assert 'line 2 is not UTF-8 text; save the file as "CSV UTF-8"' in import_customers(session, latin1).rejected[0].reason
    empty = tmp_path / "c.csv"
    empty.write_bytes(b"")
    assert import_orders(session, empty).rejected[0].reason == "the file is empty"
    assert "cannot read the file" in import_orders(session, tmp_path / "absent.csv").rejected[0].reason
    twice = write(tmp_path, "d.csv", CUSTOMER_HEADER + ",email", "C1,A,B,a@example.com,,,,,a@example.com")
    assert "appear more than once" in import_customers(session, twice).rejected[0].reason
    assert count(session, Customer) == 0


def test_a_nul_character_rejects_the_row_on_every_database(session: Session, tmp_path: Path) -> None:
    # Found by test_importer_fuzz on PostgreSQL, which refuses NUL in any text parameter.
    path = write(tmp_path, "nul.csv", CUSTOMER_HEADER, "\x00,Ada,,ada@example.com,,,,,", "C2,Bo,,,,,,,")
    report = import_customers(session, path)
    assert [(p.line, p.reason) for p in report.rejected] == [(2, "a value contains a NUL character")]
    assert report.imported == 1
