"""Demo data for trying the assistant: the Juniper & Oak shop's customers and orders.

The data lives in crm/demo_data/customers.csv and orders.csv, in exactly the
format an owner imports, and `seed_demo` loads it through the importer, so the
demo and the import path cannot drift apart.

Keeping the dates sensible as time passes: the CSV dates are absolute, written
as if today were DEMO_TODAY (crm.demo_gen). Seeding moves every date by
(today - DEMO_TODAY) whole days, today being the day of seeding unless given.
So order 1043 is always shipped 4 days before seeding and order 1040 always
delivered 11 days before, inside the 30-day return window. Everything is
deterministic: the same `today` gives the same database.

The three returned orders also get return records (two refunded, one
received and awaiting refund), which the CSV format has no column for.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.demo_gen import DEMO_DATA, DEMO_TODAY
from crm.importer import DEMO_ACTOR, import_customers, import_orders
from crm.models import Customer, Order, OrderStatus, ReturnRequest, ReturnStatus
from crm.services.audit import audit
from crm.shop import load_shop_profile

_RETURN_REASONS = [
    "Arrived with a chip on the rim.",
    "Colour is different from the photo.",
    "Bought two by mistake.",
]


def seed_demo(session: Session, *, today: date | None = None) -> bool:
    """Load the demo shop into an empty CRM; returns False (and does nothing)
    if there are customers already. Does not commit."""
    if session.scalar(select(func.count(Customer.id))):
        return False
    today = today or utcnow().astimezone(load_shop_profile().opening_hours.tz).date()
    shift = timedelta(days=(today - DEMO_TODAY).days)
    reports = [
        import_customers(session, DEMO_DATA / "customers.csv", actor=DEMO_ACTOR),
        import_orders(session, DEMO_DATA / "orders.csv", date_shift=shift, actor=DEMO_ACTOR),
    ]
    problems = [str(problem) for report in reports for problem in report.rejected]
    if problems:
        raise RuntimeError("the demo data no longer imports cleanly: " + "; ".join(problems))
    # The CRM was empty: every customer now in it is the demo's own, and only these may
    # ever be signed in as by the demo page.
    session.execute(update(Customer).values(is_demo=True))
    _add_returns(session)
    audit(session, actor="system:demo", action="demo.seed", detail={"today": today.isoformat()})
    session.flush()
    return True


def _add_returns(session: Session) -> None:
    rng = random.Random(7)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    returned = session.scalars(
        select(Order).where(Order.status == OrderStatus.returned).order_by(Order.placed_at)
    ).all()
    for index, order in enumerate(returned):
        received = as_utc(order.delivered_at or order.placed_at) + timedelta(days=4)
        refunded = index < len(returned) - 1  # the latest one is still being refunded
        session.add(
            ReturnRequest(
                reference="R-" + "".join(rng.choice(alphabet) for _ in range(6)),
                order=order,
                reason=_RETURN_REASONS[index % len(_RETURN_REASONS)],
                status=ReturnStatus.refunded if refunded else ReturnStatus.received,
                amount=Decimal(order.total),
                created_at=received,
                refunded_at=received + timedelta(days=6) if refunded else None,
            )
        )


def real_customer_count(session: Session) -> int:
    """Customers the demo did not create (imported, or added by the shop)."""
    return int(session.scalar(select(func.count(Customer.id)).where(Customer.is_demo.is_(False))) or 0)
