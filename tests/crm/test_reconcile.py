"""crm.reconcile and `python -m crm reconcile`: catching up on missed webhooks."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.__main__ import main
from crm.db import make_engine
from crm.models import Order, OrderStatus
from crm.reconcile import reconcile_csv, reconcile_json
from tests.factories import make_customer, make_order
from tests.shop_fixtures import fixture

ALL_TIME = 100_000


def test_a_shopify_export_catches_up_and_is_idempotent(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [fixture("shopify_orders_fulfilled"), {"id": 5, "name": "junk"}]}))
    first = reconcile_json(session, path, days=ALL_TIME)
    assert first.outcomes["applied"] == 1 and len(first.problems) == 1
    order = session.scalars(select(Order).where(Order.number == "9999")).one()
    assert (order.status, order.tracking_number) == (OrderStatus.shipped, "1Z2345")
    again = reconcile_json(session, path, days=ALL_TIME)
    assert again.outcomes == {"duplicate": 1}


def test_an_older_export_does_not_roll_back(session: Session, tmp_path: Path) -> None:
    newer, older = tmp_path / "new.json", tmp_path / "old.json"
    newer.write_text(json.dumps([fixture("woocommerce_order_updated")]))
    older.write_text(json.dumps([fixture("woocommerce_order_created")]))
    assert reconcile_json(session, newer, days=ALL_TIME).outcomes == {"applied": 1}
    assert reconcile_json(session, older, days=ALL_TIME).outcomes == {"stale": 1}
    assert session.scalars(select(Order.status).where(Order.number == "727")).one() == OrderStatus.shipped


def test_only_recent_orders_are_read(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [fixture("shopify_orders_create")]}))
    assert reconcile_json(session, path, days=14).outcomes == {"older than the window": 1}
    assert session.scalars(select(Order)).all() == []


def test_a_csv_row_only_moves_an_order_forward(session: Session, tmp_path: Path) -> None:
    customer = make_customer(session, external_id="C5")
    make_order(session, customer=customer, number="8001", status=OrderStatus.delivered)
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_number,customer_id,placed_at,status,items,total,currency,carrier,tracking_number\n"
        "8001,C5,2026-11-20,paid,1x Mug @ 9.00,9.00,GBP,,\n"
        "8002,C5,2026-11-20,shipped,1x Mug @ 9.00,9.00,GBP,DPD,DPD1\n"
        "8003,C5,yesterday,paid,1x Mug,9.00,GBP,,\n"
    )
    report = reconcile_csv(session, path, days=ALL_TIME)
    assert report.outcomes == {"applied": 2} and len(report.problems) == 1 and "line 4" in report.problems[0]
    statuses = dict(session.execute(select(Order.number, Order.status)).tuples().all())
    assert statuses == {"8001": OrderStatus.delivered, "8002": OrderStatus.shipped}


def test_the_command(empty_db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [fixture("shopify_orders_updated")]}))
    assert main(["--database-url", empty_db_url, "reconcile", "--json", str(path), "--days", str(ALL_TIME)]) == 0
    assert "applied 1" in capsys.readouterr().out
    engine = make_engine(empty_db_url)
    try:
        with Session(engine) as session:
            assert session.scalars(select(Order.number)).all() == ["9999"]
    finally:
        engine.dispose()
    (tmp_path / "bad.json").write_text("{}")
    assert main(["--database-url", empty_db_url, "reconcile", "--json", str(tmp_path / "bad.json")]) == 2
