"""Order and customer updates from the shop platform, applied once and in order.

Every platform (Shopify, WooCommerce, the JSON API, a reconciliation file) is
translated at the edge into one neutral `OrderUpdate` / `CustomerUpdate`;
`receive` applies it:

- idempotent: the event's key is claimed by inserting a `ShopEvent` row whose
  (source, event_key) is unique, so a redelivery fails the insert and changes
  nothing;
- order-safe: an update older than the one already applied (by the platform's
  own modification time) is recorded as "stale" and changes nothing;
- whole: the caller's one transaction holds the claim and the change;
- kind to the erased: an update about a customer erased at their request is
  refused and its payload is not kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import AuditEntry, Customer, Order, OrderLine, OrderStatus, Product, ReturnStatus, ShopEvent
from crm.services import consents, notices
from crm.services.audit import audit
from crm.services.customers import erased_tag
from crm.services.shop_requests import settle_from_order
from crm.services.shop_updates import (
    CustomerUpdate,
    IncomingEvent,
    LineUpdate,
    OrderUpdate,
    SyncResult,
    UpdateRefused,
)

EVENT_RETENTION = timedelta(days=30)
_PROGRESS = {
    OrderStatus.placed: 0,
    OrderStatus.paid: 1,
    OrderStatus.shipped: 2,
    OrderStatus.delivered: 3,
    OrderStatus.cancelled: 4,
    OrderStatus.returned: 5,
}


def claim_event(session: Session, event: IncomingEvent) -> ShopEvent | None:
    """Insert the event's row; None when this event was already received.

    ON CONFLICT DO NOTHING settles a race between two deliveries in the
    database, without a savepoint (which pysqlite would commit on release, and
    the claim must stand or fall with the update it guards).
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ShopEvent)
        .values(
            source=event.source,
            event_key=event.key[:200],
            topic=event.topic[:60],
            subject="",
            outcome="received",
            payload=event.payload,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["source", "event_key"])
        .returning(ShopEvent.id)
    )
    new_id = session.execute(stmt).scalar()
    return None if new_id is None else session.get(ShopEvent, new_id)


def receive(session: Session, *, event: IncomingEvent, update: OrderUpdate | CustomerUpdate | None) -> SyncResult:
    """Claim the event and apply the update in the caller's transaction.

    `update` None: an event kept for the record that changes nothing (a ping).
    """
    row = claim_event(session, event)
    if row is None:
        return SyncResult("duplicate")
    if update is None:
        result = SyncResult("ignored")
    elif isinstance(update, CustomerUpdate):
        result = apply_customer_update(session, update=update, source=event.source)
    else:
        result = apply_order_update(session, update=update, source=event.source)
    row.outcome = result.outcome
    row.subject = result.subject[:128]
    if result.outcome == "erased":
        row.payload = None
    session.flush()
    return result


def purge_events(session: Session, *, now: datetime | None = None, keep: timedelta = EVENT_RETENTION) -> int:
    """Delete received events older than `keep` (30 days); returns how many."""
    cutoff = as_utc(now or utcnow()) - keep
    result = session.execute(delete(ShopEvent).where(ShopEvent.received_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _was_erased(session: Session, external_id: str) -> bool:
    # Erasure leaves only a one-way tag of the id in the audit log (crm/services/customers.py).
    subject = f"customer:{erased_tag(external_id)}"
    return session.scalar(
        select(AuditEntry.id).where(AuditEntry.action == "customer.erase", AuditEntry.subject == subject).limit(1)
    ) is not None


def _is_older(incoming: datetime | None, stored: datetime | None) -> bool:
    return incoming is not None and stored is not None and as_utc(incoming) < as_utc(stored)


def _refuse_erased(session: Session, source: str, external_id: str, subject: str) -> SyncResult:
    # The audit line keeps the erased customer's one-way tag: not even the shop's id.
    audit(
        session,
        actor=f"platform:{source}",
        action="shop.update_refused_erased",
        subject=f"customer:{erased_tag(external_id)}",
    )
    return SyncResult("erased", subject=subject)


def _find_customer(session: Session, update: CustomerUpdate) -> Customer | None:
    customer = session.scalars(select(Customer).where(Customer.external_id == update.external_id)).first()
    if customer is None and update.email:
        customer = session.scalars(select(Customer).where(Customer.email == update.email.lower())).first()
    return customer


def _upsert_customer(session: Session, update: CustomerUpdate) -> Customer:
    customer = _find_customer(session, update)
    if customer is None:
        customer = Customer(
            external_id=update.external_id[:64],
            first_name=(update.first_name or "")[:100],
            last_name=(update.last_name or "")[:100],
            email=update.email.lower() if update.email else None,
            phone=update.phone,
            marketing_opt_in=bool(update.marketing_opt_in),
            source_updated_at=update.updated_at,
        )
        session.add(customer)
        session.flush()
        return customer
    if _is_older(update.updated_at, customer.source_updated_at):
        return customer
    if update.first_name:
        customer.first_name = update.first_name[:100]
    if update.last_name is not None:
        customer.last_name = update.last_name[:100]
    if update.email:
        taken = session.scalars(
            select(Customer.id).where(Customer.email == update.email.lower(), Customer.id != customer.id)
        ).first()
        if taken is None:
            customer.email = update.email.lower()
    if update.phone:
        customer.phone = update.phone
    if update.updated_at is not None:
        customer.source_updated_at = update.updated_at
    return customer


def apply_customer_update(session: Session, *, update: CustomerUpdate, source: str) -> SyncResult:
    subject = f"customer:{update.external_id}"
    if _was_erased(session, update.external_id):
        return _refuse_erased(session, source, update.external_id, subject)
    existing = _find_customer(session, update)
    if existing is not None and _is_older(update.updated_at, existing.source_updated_at):
        return SyncResult("stale", subject=subject)
    customer = _upsert_customer(session, update)
    if update.order_updates_opt_in is not None:
        session.flush()
        consents.consent_from_platform(session, customer=customer, granted=update.order_updates_opt_in, source=source)
    return SyncResult("applied", subject=subject)


def _find_order(session: Session, update: OrderUpdate) -> Order | None:
    if update.platform_id:
        order = session.scalars(select(Order).where(Order.platform_id == update.platform_id)).first()
        if order is not None:
            return order
    if update.number:
        return session.scalars(select(Order).where(Order.number == update.number)).first()
    return None


def _product(session: Session, line: LineUpdate, currency: str) -> Product:
    name = line.name.strip()[:200] or "Item"
    product = session.scalars(select(Product).where(Product.name == name)).first()
    if product is None:
        product = Product(name=name, price=line.price, currency=currency, active=True)
        session.add(product)
        session.flush()
    return product


def _status_after_refund(status: OrderStatus) -> OrderStatus:
    return OrderStatus.cancelled if status in (OrderStatus.placed, OrderStatus.paid) else OrderStatus.returned


def apply_order_update(session: Session, *, update: OrderUpdate, source: str) -> SyncResult:
    order = _find_order(session, update)
    subject = f"order:{order.number if order else update.number or update.platform_id}"
    if order is not None and _was_erased(session, order.customer.external_id):
        return _refuse_erased(session, source, order.customer.external_id, subject)
    if update.customer is not None and _was_erased(session, update.customer.external_id):
        return _refuse_erased(session, source, update.customer.external_id, subject)
    if order is not None and not update.forward_only and _is_older(update.updated_at, order.source_updated_at):
        return SyncResult("stale", subject=subject, order=order)
    before = order.status if order is not None else None
    was = notices.snapshot(order)
    if order is None:
        if update.deleted or update.forward_only or update.number is None:
            # A fulfilment or refund for an order never seen: the reconciliation brings it in.
            return SyncResult("unknown_order", subject=subject)
        if update.customer is None or update.placed_at is None or update.total is None:
            raise UpdateRefused(f"order {update.number} is new, so it needs a customer, placed_at and total")
        order = Order(
            number=update.number,
            customer=_upsert_customer(session, update.customer),
            placed_at=update.placed_at,
            status=update.status or OrderStatus.placed,
            total=update.total,
            currency=update.currency or "EUR",
        )
        session.add(order)
    elif update.customer is not None:
        _upsert_customer(session, update.customer)
    _copy_fields(order, update)
    if update.status is not None and not (
        update.forward_only
        and before is not None
        and (before in (OrderStatus.cancelled, OrderStatus.returned) or _PROGRESS[update.status] <= _PROGRESS[before])
    ):
        order.status = update.status
    if (update.fully_refunded or update.deleted) and order.status != OrderStatus.cancelled:
        # Refunded before it left is a cancellation; after, the parcel came back.
        order.status = _status_after_refund(before or order.status)
    if order.status == OrderStatus.cancelled and order.cancelled_at is None:
        order.cancelled_at = update.cancelled_at or update.updated_at or utcnow()
    if order.status == OrderStatus.shipped and order.shipped_at is None:
        order.shipped_at = update.updated_at or utcnow()
    if update.lines is not None:
        wanted = [(_product(session, line, order.currency), line.quantity) for line in update.lines]
        if [(l.product, l.quantity) for l in order.lines] != wanted:
            order.lines.clear()
            order.lines.extend(OrderLine(product=p, quantity=q) for p, q in wanted)
    if update.refunded:
        for request in order.returns:
            if request.status in (ReturnStatus.requested, ReturnStatus.approved, ReturnStatus.received):
                request.status = ReturnStatus.refunded
                request.refunded_at = update.updated_at or utcnow()
    if update.updated_at is not None and not update.forward_only:
        order.source_updated_at = update.updated_at
    session.flush()
    settled = settle_from_order(session, order=order, update=update, actor=f"platform:{source}")
    notices.notices_for_change(
        session,
        before=was,
        order=order,
        shipment_status=update.shipment_status,
        tracking_url=update.tracking_url,
        refunded=update.refunded,
        settings=notices.notification_settings(),
    )
    return SyncResult("applied", subject=f"order:{order.number}", order=order, settled=settled)


def _copy_fields(order: Order, update: OrderUpdate) -> None:
    for name in (
        "platform_id",
        "placed_at",
        "total",
        "currency",
        "carrier",
        "tracking_number",
        "shipped_at",
        "delivered_at",
        "cancelled_at",
        "shipping_address",
    ):
        value = getattr(update, name)
        if value is not None:
            setattr(order, name, value)
