"""One row of orders.csv applied to the CRM: its products, what changed, the notices it makes.

`crm.importer.import_orders` reads and checks the file; this applies each good row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.csvfile import ImportReport
from crm.import_rows import Item, OrderRow
from crm.models import Customer, Order, OrderLine, OrderStatus, Product
from crm.services import notices


class Catalogue:
    """Products by name, case-insensitively, created as orders mention them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_name = {p.name.casefold(): p for p in session.scalars(select(Product))}

    def product(self, item: Item, currency: str) -> tuple[Product, bool]:
        """The item's product, and whether it was created or repriced."""
        product = self.by_name.get(item.name.casefold())
        if product is None:
            product = Product(name=item.name, price=item.price, currency=currency, active=True)
            self.session.add(product)
            self.by_name[item.name.casefold()] = product
            return product, True
        if item.price is not None and product.price != item.price:
            product.price = item.price
            return product, True
        return product, False


# Blank cells in these columns keep what is stored.
_KEEP_IF_BLANK = ("carrier", "tracking_number", "shipped_at", "delivered_at")


def apply_order(
    session: Session,
    row: OrderRow,
    customer: Customer,
    catalogue: Catalogue,
    default_currency: str,
    line: int,
    report: ImportReport,
) -> None:
    currency = row.currency or default_currency
    order = session.scalars(select(Order).where(Order.number == row.number)).first()
    created = order is None
    # A re-imported sheet that ships an order tells the customer, as a platform update would.
    was = notices.snapshot(order)
    if order is None:
        order = Order(number=row.number, customer=customer, status=row.status, total=row.total, placed_at=row.placed_at)
        session.add(order)
    status = row.status
    if order.status == OrderStatus.cancelled and order.cancelled_at is not None and status in (
        OrderStatus.placed,
        OrderStatus.paid,
    ):
        # Cancelled in chat after the sheet was exported: the sheet is behind.
        report.warn(line, f"order {row.number} kept cancelled: it was cancelled in chat")
        status = OrderStatus.cancelled
    wanted = {
        "customer": customer,
        "placed_at": row.placed_at,
        "status": status,
        "total": row.total,
        "currency": currency,
        "carrier": row.carrier,
        "tracking_number": row.tracking_number,
        "shipped_at": row.shipped_at,
        "delivered_at": row.delivered_at,
    }
    changed = False
    for attribute, value in wanted.items():
        if value is None and attribute in _KEEP_IF_BLANK:
            continue
        current = getattr(order, attribute)
        if isinstance(current, datetime) and isinstance(value, datetime):
            same = as_utc(current) == value
        else:
            same = current == value
        if not same:
            setattr(order, attribute, value)
            changed = True
    resolved = [(*catalogue.product(item, currency), item.quantity) for item in row.items]
    changed = changed or any(repriced for _, repriced, _ in resolved)
    if [(l.product, l.quantity) for l in order.lines] != [(p, q) for p, _, q in resolved]:
        order.lines.clear()
        order.lines.extend(OrderLine(product=product, quantity=quantity) for product, _, quantity in resolved)
        changed = True
    session.flush()
    if changed:
        notices.notices_for_change(
            session, before=was, order=order, shipment_status=None, tracking_url=None, refunded=False,
            settings=notices.notification_settings(),
        )
    report.count(created=created, changed=changed)
