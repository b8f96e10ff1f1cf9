"""crm.importer: customers and orders from the shop's CSV files."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.importer import import_customers, import_orders
from crm.models import (
    AuditEntry,
    ChannelIdentity,
    Consent,
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from crm.services import erase_customer, set_marketing_consent
from tests.crm.import_support import (
    CUSTOMER_HEADER,
    ORDER_HEADER,
    assert_rejected,
    count,
    customer,
    order,
    rejected,
    write,
)
from tests.factories import make_customer

UTC = timezone.utc


@pytest.fixture
def customers_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "customers.csv",
        CUSTOMER_HEADER,
        "K1,Amelia,Hughes,Amelia.Hughes@Example.com,07700 900901,,en,yes",
        "K2,Oliver,Bennett,oliver@example.com,+44 7700 900902,8880001,en-GB,no",
        "K3,Zoë,,,,,,",
    )


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER,
        "#2001,K1,2026-07-01 10:30,delivered,2x Blue Mug @ 14.00; 1x Tea Sampler,46.00,GBP,Royal Mail,AB123456789GB,2026-07-02,2026-07-04T12:00:00Z",
        "order 2002,K2,2026-01-15,paid,1x Oak Board,36.00,,,,,",
        "00002003,K1,2026-11-01T09:00:00+01:00,shipped,3x tea sampler,54,GBP,DPD,15501234567890,2026-11-02 16:00,",
    )


def test_import_customers(session: Session, customers_csv: Path) -> None:
    report = import_customers(session, customers_csv)
    assert (report.imported, report.updated, report.unchanged, report.rejected) == (3, 0, 0, [])
    amelia = customer(session, "K1")
    assert (amelia.first_name, amelia.last_name, amelia.email, amelia.phone, amelia.locale, amelia.marketing_opt_in) == (
        "Amelia", "Hughes", "amelia.hughes@example.com", "+447700900901", "en", True,
    )
    oliver = customer(session, "K2")
    assert oliver.locale == "en-GB" and oliver.marketing_opt_in is False
    assert [(i.channel, i.external_user_id) for i in oliver.identities] == [("telegram", "8880001")]
    zoe = customer(session, "K3")
    assert (zoe.first_name, zoe.last_name, zoe.email, zoe.phone, zoe.locale) == ("Zoë", "", None, None, "en")
    # Opting in is evidence worth keeping; not opting in needs no record.
    assert [(c.customer_id, c.granted, c.source) for c in session.scalars(select(Consent))] == [(amelia.id, True, "import")]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "crm.import_customers")).one()
    assert entry.detail == {"imported": 3, "updated": 0, "unchanged": 0, "rejected": 0}


def test_import_orders(session: Session, customers_csv: Path, orders_csv: Path) -> None:
    import_customers(session, customers_csv)
    report = import_orders(session, orders_csv)
    assert (report.imported, report.updated, report.rejected) == (3, 0, [])
    first = order(session, "2001")
    assert first.customer.external_id == "K1"
    assert first.status == OrderStatus.delivered and first.total == Decimal("46.00") and first.currency == "GBP"
    assert [(l.product.name, l.quantity) for l in first.lines] == [("Blue Mug", 2), ("Tea Sampler", 1)]
    # Local (London, summer) time unless an offset is given.
    assert as_utc(first.placed_at) == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert as_utc(first.shipped_at) == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)  # type: ignore[arg-type]
    assert as_utc(first.delivered_at) == datetime(2026, 7, 4, 12, 0, tzinfo=UTC)  # type: ignore[arg-type]
    assert (first.carrier, first.tracking_number) == ("Royal Mail", "AB123456789GB")
    second = order(session, "2002")
    assert as_utc(second.placed_at) == datetime(2026, 1, 15, 0, 0, tzinfo=UTC)  # winter: GMT
    assert second.currency == "GBP"  # blank: the shop's currency
    assert second.carrier is None and second.shipped_at is None
    third = order(session, "2003")
    assert as_utc(third.placed_at) == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert third.total == Decimal("54.00")
    # Products by name, case-insensitively, with the price when one was given.
    products = {p.name: p.price for p in session.scalars(select(Product))}
    assert products == {"Blue Mug": Decimal("14.00"), "Tea Sampler": None, "Oak Board": None}
    assert [(l.product.name, l.quantity) for l in third.lines] == [("Tea Sampler", 3)]


def test_reimport_updates_and_never_duplicates(
    session: Session, tmp_path: Path, customers_csv: Path, orders_csv: Path
) -> None:
    import_customers(session, customers_csv)
    import_orders(session, orders_csv)
    again_customers = import_customers(session, customers_csv)
    again_orders = import_orders(session, orders_csv)
    assert (again_customers.imported, again_customers.updated, again_customers.unchanged) == (0, 0, 3)
    assert (again_orders.imported, again_orders.updated, again_orders.unchanged) == (0, 0, 3)

    changed_customers = write(
        tmp_path,
        "customers2.csv",
        CUSTOMER_HEADER,
        "K1,Amelia,Hughes-Price,amelia.hughes@example.com,,,en,yes",
        "K4,New,Person,new@example.com,,,,",
    )
    changed_orders = write(
        tmp_path,
        "orders2.csv",
        ORDER_HEADER,
        "2001,K1,2026-07-01 10:30,returned,1x Blue Mug @ 15.00; 1x Linen Towel,29.00,GBP,,,,",
    )
    report = import_customers(session, changed_customers)
    assert (report.imported, report.updated, report.unchanged) == (1, 1, 0)
    report = import_orders(session, changed_orders)
    assert (report.imported, report.updated) == (0, 1)

    assert count(session, Customer) == 4
    assert count(session, Order) == 3
    assert count(session, Product) == 4
    assert count(session, ChannelIdentity) == 1
    amelia = customer(session, "K1")
    assert amelia.last_name == "Hughes-Price"
    assert amelia.phone == "+447700900901"  # blank cell: kept
    first = order(session, "2001")
    assert first.status == OrderStatus.returned and first.total == Decimal("29.00")
    assert [(l.product.name, l.quantity) for l in first.lines] == [("Blue Mug", 1), ("Linen Towel", 1)]
    assert first.carrier == "Royal Mail"  # blank cell: kept
    assert count(session, OrderLine, OrderLine.order_id == first.id) == 2
    assert session.scalar(select(Product.price).where(Product.name == "Blue Mug")) == Decimal("15.00")


def test_every_kind_of_bad_customer_row_is_reported_and_the_rest_imported(session: Session, tmp_path: Path) -> None:
    make_customer(session, external_id="OLD1", email="taken@example.com", telegram_user_id=7770001)
    path = write(
        tmp_path,
        "customers.csv",
        CUSTOMER_HEADER,
        "G1,Good,One,good1@example.com,,,,",  # 2
        "X1,Bad,Mail,not-an-email,,,,",  # 3
        ",No,Id,noid@example.com,,,,",  # 4
        "X2,,Nofirst,nofirst@example.com,,,,",  # 5
        "X3,Bad,Phone,x3@example.com,12345,,,",  # 6
        "X4,Bad,Telegram,x4@example.com,,@someone,,",  # 7
        "X5,Bad,Locale,x5@example.com,,,english please,",  # 8
        "X6,Bad,Optin,x6@example.com,,,,maybe",  # 9
        "G1,Dup,Id,dupid@example.com,,,,",  # 10
        "X7,Dup,Email,GOOD1@example.com,,,,",  # 11
        "X8,Taken,Email,taken@example.com,,,,",  # 12
        "X9,Taken,Telegram,x9@example.com,,7770001,,",  # 13
        'X10,"Multi',  # 14: a quoted value running over two lines is fine...
        'line",Name,x10@example.com,,,,',
        "X11,Too,Many,x11@example.com,,,,,,surplus",  # 16
        "X12,Bad,Everything,bad@,12,abc,,perhaps",  # 17
        "G2,Good,Two,good2@example.com,,,,",  # 18
    )
    report = import_customers(session, path)
    assert report.imported == 3  # G1, X10, G2
    problems = rejected(report)
    expected = {
        3: "bad e-mail",
        4: "missing customer_id",
        5: "missing first_name",
        6: "bad phone number",
        7: "bad telegram_user_id",
        8: "bad locale",
        9: "bad marketing_opt_in",
        10: "duplicate customer_id G1 (also on line 2)",
        11: "duplicate e-mail (also on line 2)",
        12: "duplicate e-mail: already used by customer OLD1",
        13: "telegram_user_id is already linked to customer OLD1",
        16: "10 values but the header has 8 columns",
    }
    assert_rejected(problems, expected)
    everything = problems.pop(17)
    for reason in ("bad e-mail", "bad phone number", "bad telegram_user_id", "bad marketing_opt_in"):
        assert reason in everything
    assert problems == {}
    assert all(p.file == "customers.csv" for p in report.rejected)
    assert str(report.rejected[0]) == "customers.csv:3: bad e-mail"
    assert customer(session, "X10").first_name == "Multi\nline"
    assert count(session, Customer, Customer.external_id.like("X%")) == 1


def test_every_kind_of_bad_order_row_is_reported_and_the_rest_imported(session: Session, tmp_path: Path) -> None:
    make_customer(session, external_id="K9")
    path = write(
        tmp_path,
        "orders.csv",
        ORDER_HEADER,
        "4001,K9,2026-05-01,delivered,1x Mug,10.00,,,,,",  # 2
        "4002,NOBODY,2026-05-01,paid,1x Mug,10.00,,,,,",  # 3
        "4003,K9,01/05/2026,paid,1x Mug,10.00,,,,,",  # 4
        "4004,K9,2026-05-01,sent,1x Mug,10.00,,,,,",  # 5
        "4005,K9,2026-05-01,paid,Mug,10.00,,,,,",  # 6
        "4006,K9,2026-05-01,paid,0x Mug,10.00,,,,,",  # 7
        "4007,K9,2026-05-01,paid,1x Mug,ten,,,,,",  # 8
        "4008,K9,2026-05-01,paid,1x Mug,-3,,,,,",  # 9
        "what?,K9,2026-05-01,paid,1x Mug,10.00,,,,,",  # 10
        "#4001,K9,2026-05-01,paid,1x Mug,10.00,,,,,",  # 11
        "4009,K9,2026-05-01,paid,1x Mug,10.00,pounds,,,,",  # 12
        "4010,K9,2026-05-05,shipped,1x Mug,10.00,,DPD,1,2026-05-01,",  # 13
        "4011,K9,2026-05-01,delivered,1x Mug,10.00,,DPD,1,2026-05-02,2026-13-45",  # 14
        "4012,K9,,paid,,10.00,,,,,",  # 15
        "4013,K9,2026-05-01,paid,;;,10.00,,,,,",  # 16
        "4014,K9,2026-05-01T25:00,paid,1x Mug,10.005,,,,,",  # 17
        "4015,K9,2026-05-02,placed,2x Mug; 1x Tea,30.00,,,,,",  # 18
    )
    report = import_orders(session, path)
    assert report.imported == 2
    problems = rejected(report)
    expected = {
        3: "unknown customer NOBODY",
        4: 'bad date in placed_at "01/05/2026"',
        5: 'bad status "sent"',
        6: 'bad items: "Mug" is not like "2x Blue Mug"',
        7: "bad items",
        8: 'bad total "ten"',
        9: 'bad total "-3"',
        10: 'bad order number "what?"',
        11: "duplicate order number 4001 (also on line 2)",
        12: 'bad currency "pounds"',
        13: "shipped_at is before placed_at",
        14: "bad date in delivered_at",
        16: "bad items: no items",
    }
    assert_rejected(problems, expected)
    assert "missing placed_at" in problems[15] and "missing items" in problems.pop(15)
    assert "bad date in placed_at" in problems[17] and "bad total" in problems.pop(17)
    assert problems == {}
    assert {o.number for o in session.scalars(select(Order))} == {"4001", "4015"}


def test_a_customers_own_marketing_choice_beats_the_sheet(session: Session, tmp_path: Path) -> None:
    import_customers(session, write(tmp_path, "1.csv", CUSTOMER_HEADER, "M1,Mo,Ray,mo@example.com,,,,yes"))
    mo = customer(session, "M1")
    set_marketing_consent(session, customer=mo, granted=False, source="telegram")
    report = import_customers(session, write(tmp_path, "2.csv", CUSTOMER_HEADER, "M1,Mo,Ray,mo@example.com,,,,yes"))
    assert mo.marketing_opt_in is False
    assert [(w.line, w.reason) for w in report.warnings] == [
        (2, "marketing_opt_in left as no: the customer chose that themselves (via telegram)")
    ]
    # But the sheet still decides for customers who never chose in chat.
    import_customers(session, write(tmp_path, "3.csv", CUSTOMER_HEADER, "M2,Al,Ray,al@example.com,,,,yes"))
    import_customers(session, write(tmp_path, "4.csv", CUSTOMER_HEADER, "M2,Al,Ray,al@example.com,,,,no"))
    assert customer(session, "M2").marketing_opt_in is False


def test_erased_customers_are_not_brought_back(session: Session, tmp_path: Path) -> None:
    gone = make_customer(session, external_id="E1")
    erase_customer(session, customer=gone, actor="staff:1")
    report = import_customers(session, write(tmp_path, "c.csv", CUSTOMER_HEADER, "E1,Eve,Gone,eve@example.com,,,,"))
    assert "E1 was erased" in report.rejected[0].reason
    report = import_orders(session, write(tmp_path, "o.csv", ORDER_HEADER, "6001,E1,2026-05-01,paid,1x Mug,10.00,,,,,"))
    assert "E1 was erased" in report.rejected[0].reason
    assert count(session, Customer, Customer.external_id == "E1") == 0


def test_date_shift_moves_every_date(session: Session, tmp_path: Path) -> None:
    make_customer(session, external_id="S1")
    path = write(tmp_path, "o.csv", ORDER_HEADER, "7001,S1,2026-05-01 10:00,delivered,1x Mug,10.00,,DPD,1,2026-05-02 10:00,2026-05-03 10:00")
    import_orders(session, path, date_shift=timedelta(days=10), tz=ZoneInfo("UTC"))
    shifted = order(session, "7001")
    assert as_utc(shifted.placed_at) == datetime(2026, 5, 11, 10, 0, tzinfo=UTC)
    assert as_utc(shifted.delivered_at) == datetime(2026, 5, 13, 10, 0, tzinfo=UTC)  # type: ignore[arg-type]
NOTICES_HEADER = CUSTOMER_HEADER + ",order_updates_opt_in"


def test_order_updates_consent_is_imported_separately_from_marketing(session: Session, tmp_path: Path) -> None:
    from crm.services.consents import set_consent

    report = import_customers(session, write(
        tmp_path, "1.csv", NOTICES_HEADER,
        "N1,Ann,Lee,ann@example.com,,,,no,true", "N2,Bo,Lee,bo@example.com,,,,yes,", "N3,Cy,Lee,cy@example.com,,,,,maybe"))
    assert [(p.line, p.reason) for p in report.rejected] == [
        (4, 'bad order_updates_opt_in "maybe" (expected yes or no)')]
    ann, bo = customer(session, "N1"), customer(session, "N2")
    assert (ann.order_updates_opt_in, ann.marketing_opt_in) == (True, False)
    assert bo.order_updates_opt_in is None  # empty: never asked, so nothing is sent
    assert [(c.kind, c.granted, c.source) for c in ann.consents if c.kind == "order_updates"] == [
        ("order_updates", True, "import")]
    # The customer's own "stop order updates" in chat beats the next import.
    set_consent(session, customer=ann, granted=False, source="telegram")
    report = import_customers(session, write(tmp_path, "2.csv", NOTICES_HEADER, "N1,Ann,Lee,ann@example.com,,,,no,true"))
    assert ann.order_updates_opt_in is False
    assert [w.reason for w in report.warnings] == [
        "order_updates_opt_in left as no: the customer chose that themselves (via telegram)"]
    # A sheet without the column changes nothing.
    import_customers(session, write(tmp_path, "3.csv", CUSTOMER_HEADER, "N2,Bo,Lee,bo@example.com,,,,yes"))
    assert customer(session, "N2").order_updates_opt_in is None
