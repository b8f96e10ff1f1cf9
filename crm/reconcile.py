"""Re-reading recent orders when webhooks were missed: `python -m crm reconcile`.

Reads a Shopify export (the Admin API's `{"orders": [...]}`), a WooCommerce
export (a list of REST API v3 orders) or orders.csv, and applies every order
placed in the last `--days` through the same service as the webhooks: an
order already up to date is a duplicate, an older copy is stale, and a CSV row
(which carries no modification time) only ever moves an order forward.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.csvfile import CsvFileError, read_records
from crm.import_rows import ORDER_COLUMNS, REQUIRED_ORDER, parse_order
from crm.models import Customer, Order
from crm.services.shop_sync import (
    CustomerUpdate,
    IncomingEvent,
    LineUpdate,
    OrderUpdate,
    UpdateRefused,
    receive,
)
from crm.shop import load_shop_profile


@dataclass
class ReconcileReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(self.outcomes.items())) or "nothing"
        return f"reconciled: {counts}; {len(self.problems)} refused"


def _translate_json(item: dict[str, Any]) -> OrderUpdate:
    # The platform translators live with the gateway's webhooks; reuse them, don't copy them.
    from bot.shop import shopify, woocommerce

    if "date_modified_gmt" in item:
        return woocommerce.order(item)
    return shopify.order(item)


def _json_orders(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    orders = data.get("orders") if isinstance(data, dict) else data
    if not isinstance(orders, list):
        raise ValueError('expected {"orders": [...]} (Shopify) or a list of orders (WooCommerce)')
    return orders


def _apply(session: Session, report: ReconcileReport, label: str, update: OrderUpdate, since: datetime) -> None:
    if update.placed_at is not None and as_utc(update.placed_at) < since:
        report.outcomes["older than the window"] += 1
        return
    moment = update.updated_at.isoformat() if update.updated_at else "csv"
    key = f"{update.platform_id or update.number}:{moment}:{update.status.value if update.status else ''}"
    event = IncomingEvent("reconcile", key, "order.reconcile", None)
    try:
        with session.begin_nested():
            result = receive(session, event=event, update=update)
    except UpdateRefused as exc:
        report.problems.append(f"{label}: {exc}")
        return
    report.outcomes[result.outcome] += 1


def reconcile_json(session: Session, path: Path, *, days: int = 14) -> ReconcileReport:
    report = ReconcileReport()
    since = utcnow() - timedelta(days=days)
    for index, item in enumerate(_json_orders(path)):
        label = f"order {index + 1}"
        try:
            if not isinstance(item, dict):
                raise UpdateRefused("not a JSON object")
            update = _translate_json(item)
        except UpdateRefused as exc:
            report.problems.append(f"{label}: {exc}")
            continue
        _apply(session, report, f"order #{update.number}", update, since)
    return report


def reconcile_csv(session: Session, path: Path, *, days: int = 14) -> ReconcileReport:
    report = ReconcileReport()
    since = utcnow() - timedelta(days=days)
    profile = load_shop_profile()
    try:
        records = list(read_records(path, ORDER_COLUMNS, REQUIRED_ORDER))
    except CsvFileError as exc:
        report.problems.append(str(exc))
        return report
    for record in records:
        row = None if record.problem else parse_order(record.values, tz=profile.opening_hours.tz)
        if row is None or isinstance(row, list):
            report.problems.append(f"line {record.line}: {record.problem or '; '.join(row or [])}")
            continue
        known = session.scalar(select(Order.id).where(Order.number == row.number)) is not None
        person = session.scalars(select(Customer).where(Customer.external_id == row.customer_id)).first()
        update = OrderUpdate(
            number=row.number,
            status=row.status,
            customer=CustomerUpdate(external_id=row.customer_id, first_name=person.first_name if person else None),
            placed_at=row.placed_at,
            total=row.total,
            currency=row.currency or profile.currency,
            lines=tuple(LineUpdate(i.name, i.quantity, i.price) for i in row.items),
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            shipped_at=row.shipped_at,
            delivered_at=row.delivered_at,
            forward_only=known,
        )
        _apply(session, report, f"line {record.line}", update, since)
    return report
