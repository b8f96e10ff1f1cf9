"""Command line for the owner: `python -m crm migrate | import | seed-demo | stats | export-training`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from crm.db import make_engine
from crm.demo import seed_demo
from crm.importer import ImportReport, import_customers, import_orders
from crm.migrate import upgrade
from crm.models import (
    Conversation,
    Customer,
    Feedback,
    Handoff,
    HandoffStatus,
    Order,
    Product,
    ReturnRequest,
)
from crm.services.customers import customer_segment
from crm.services.shop_sync import purge_events
from crm.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crm", description=__doc__)
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite file under var/")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema")
    load = commands.add_parser("import", help="import customers and/or orders from CSV files")
    load.add_argument("--customers", type=Path, help="customers.csv")
    load.add_argument("--orders", type=Path, help="orders.csv")
    load.add_argument("--region", default="GB", help="country for phone numbers without +code (default GB)")
    seed = commands.add_parser("seed-demo", help="load the demo shop into an empty database")
    seed.add_argument("--today", type=date.fromisoformat, help="pretend it is this day (YYYY-MM-DD)")
    commands.add_parser("stats", help="counts of what the CRM holds")
    again = commands.add_parser("reconcile", help="re-read recent orders from a platform export when webhooks were missed")
    source = again.add_mutually_exclusive_group(required=True)
    source.add_argument("--json", type=Path, help="Shopify {\"orders\": [...]} or a WooCommerce list of orders")
    source.add_argument("--csv", type=Path, help="orders.csv, as for import")
    again.add_argument("--days", type=int, default=14, help="orders placed in the last N days (default 14)")
    commands.add_parser("purge-events", help="delete shop-platform events older than 30 days")
    export = commands.add_parser(
        "export-training", help="write reviewed messages to data/nlu/reviewed.yml (then `make train`)"
    )
    export.add_argument("--out", type=Path, help="default: data/nlu/reviewed.yml")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = args.database_url or get_settings().database_url
    if args.command == "import" and not (args.customers or args.orders):
        print("nothing to import: give --customers and/or --orders", file=sys.stderr)
        return 2
    if args.command in ("migrate", "import", "seed-demo", "reconcile", "purge-events"):
        upgrade(url)
        if args.command == "migrate":
            print("database schema is up to date")
            return 0
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            if args.command == "import":
                return _import(session, args)
            if args.command == "seed-demo":
                return _seed(session, args.today)
            if args.command == "reconcile":
                return _reconcile(session, args)
            if args.command == "purge-events":
                removed = purge_events(session)
                session.commit()
                print(f"{removed} shop events older than 30 days deleted")
                return 0
            if args.command == "export-training":
                return _export_training(session, args.out)
            return _stats(session)
    except (OperationalError, ProgrammingError) as exc:  # e.g. tables missing
        print(f"database error: {exc.orig}; has `python -m crm migrate` been run?", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _export_training(session: Session, out: Path | None) -> int:
    from crm.training_export import DEFAULT_PATH, export_training

    path = out or DEFAULT_PATH
    count = export_training(session, path=path, actor="cli")
    session.commit()
    print(f"{count} reviewed examples written to {path}; run `make train` to retrain")
    return 0


def _import(session: Session, args: argparse.Namespace) -> int:
    reports: list[ImportReport] = []
    # Customers first: orders refer to them.
    if args.customers:
        reports.append(import_customers(session, args.customers, default_region=args.region))
    if args.orders:
        reports.append(import_orders(session, args.orders))
    for report in reports:
        for problem in report.rejected:
            print(f"rejected {problem}")
        for problem in report.warnings:
            print(f"warning  {problem}")
    for report in reports:
        print(report.summary())
    if not any(report.accepted for report in reports):
        session.rollback()
        print("nothing imported")
        return 1
    session.commit()
    return 0


def _reconcile(session: Session, args: argparse.Namespace) -> int:
    from crm.reconcile import reconcile_csv, reconcile_json

    try:
        if args.json:
            report = reconcile_json(session, args.json, days=args.days)
        else:
            report = reconcile_csv(session, args.csv, days=args.days)
    except (OSError, ValueError) as exc:
        session.rollback()
        print(f"cannot read the file: {exc}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"refused  {problem}")
    session.commit()
    print(report.summary())
    return 0


def _seed(session: Session, today: date | None) -> int:
    if not seed_demo(session, today=today):
        print("the database already has customers; demo data not loaded")
        return 0
    session.commit()
    customers = session.scalar(select(func.count(Customer.id)))
    orders = session.scalar(select(func.count(Order.id)))
    print(f"demo shop loaded: {customers} customers, {orders} orders")
    return 0


def _stats(session: Session) -> int:
    def count(model: type, *where: object) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]

    print(f"customers      {count(Customer)}")
    segments = {"vip": 0, "returning": 0, "new": 0}
    for customer in session.scalars(select(Customer)):
        segments[customer_segment(session, customer=customer)] += 1
    print("  by segment   " + ", ".join(f"{name} {n}" for name, n in segments.items()))
    print(f"products       {count(Product)}")
    print(f"orders         {count(Order)}")
    by_status = list(session.execute(select(Order.status, func.count()).group_by(Order.status)).tuples())
    by_status.sort(key=lambda row: row[0].value)
    print("  by status    " + ", ".join(f"{status.value} {n}" for status, n in by_status))
    print(f"returns        {count(ReturnRequest)}")
    print(f"conversations  {count(Conversation)}")
    print(f"handoffs       {count(Handoff)} ({count(Handoff, Handoff.status == HandoffStatus.queued)} queued)")
    for kind in ("csat", "nps"):
        average = session.scalar(select(func.avg(Feedback.score)).where(Feedback.kind == kind))
        n = count(Feedback, Feedback.kind == kind)
        print(f"{kind:<14} {n} ratings" + (f", average {float(average):.1f}" if n else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
