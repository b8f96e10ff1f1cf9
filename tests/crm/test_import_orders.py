"""crm.import_orders: one good row of orders.csv applied to the CRM (products, changes, notices)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.import_orders import Catalogue
from crm.import_rows import Item
from crm.importer import import_orders
from crm.models import OrderStatus, Product
from crm.services import cancel_order
from tests.crm.import_support import ORDER_HEADER, count, order, write
from tests.factories import make_customer, make_product


def test_the_catalogue_finds_products_by_name_whatever_the_case_and_creates_the_rest(session: Session) -> None:
    mug = make_product(session, name="Blue Mug", price=Decimal("14.00"))
    catalogue = Catalogue(session)
    assert catalogue.product(Item("blue MUG", 1, None), "GBP") == (mug, False)
    assert catalogue.product(Item("BLUE MUG", 2, Decimal("15.00")), "GBP") == (mug, True)  # repriced
    assert mug.price == Decimal("15.00")
    created, is_new = catalogue.product(Item("Oak Board", 1, Decimal("36.00")), "EUR")
    assert is_new and (created.name, created.price, created.currency, created.active) == (
        "Oak Board", Decimal("36.00"), "EUR", True)
    assert catalogue.product(Item("oak board", 1, None), "EUR") == (created, False)
    session.flush()
    assert sorted(session.scalars(select(Product.name))) == ["Blue Mug", "Oak Board"]


def test_an_order_cancelled_in_chat_stays_cancelled(session: Session, tmp_path: Path) -> None:
    make_customer(session, external_id="Q1")
    line = "5001,Q1,2026-05-01,paid,1x Mug,10.00,,,,,"
    import_orders(session, write(tmp_path, "1.csv", ORDER_HEADER, line))
    cancel_order(session, order=order(session, "5001"), actor="customer:Q1")
    report = import_orders(session, write(tmp_path, "2.csv", ORDER_HEADER, line))
    assert order(session, "5001").status == OrderStatus.cancelled
    assert "kept cancelled" in report.warnings[0].reason


def test_a_reimported_sheet_that_ships_an_order_makes_one_notice(session: Session, tmp_path: Path) -> None:
    from crm.models import Notice

    make_customer(session, external_id="SH1")
    paid = "5101,SH1,2026-05-01,paid,1x Mug,10.00,,,,,"
    shipped = "5101,SH1,2026-05-01,shipped,1x Mug,10.00,,Royal Mail,RM55,2026-05-02,"
    import_orders(session, write(tmp_path, "1.csv", ORDER_HEADER, paid))
    assert count(session, Notice) == 0  # a new order is no news
    import_orders(session, write(tmp_path, "2.csv", ORDER_HEADER, shipped))
    import_orders(session, write(tmp_path, "3.csv", ORDER_HEADER, shipped))  # the same sheet again
    assert [n.kind for n in session.scalars(select(Notice))] == ["shipped"]
