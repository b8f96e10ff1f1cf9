"""CSV import of customers and orders, the way small shops keep them.

customers.csv: customer_id, first_name, last_name, email, phone,
               telegram_user_id, locale, marketing_opt_in, order_updates_opt_in
orders.csv:    order_number, customer_id, placed_at, status, items, total,
               currency, carrier, tracking_number, shipped_at, delivered_at

`items` is "2x Blue Mug; 1x Tea Sampler"; a unit price may follow a name
("2x Blue Mug @ 14.00") and becomes the product's price. Dates are ISO 8601,
a date or a date and time; times without an offset are the shop's local time.
Files are UTF-8 (with or without BOM), comma- or semicolon-separated; header
names are case-insensitive, extra columns are ignored (crm.csvfile).

Rules, so that importing the same sheet again is always safe:
- Re-importing updates, never duplicates: customers by customer_id, orders by
  normalised order number (their lines are replaced), products by name
  (case-insensitive), telegram_user_id as a linked Telegram identity.
- A blank optional cell leaves what is stored unchanged; identities are added,
  never removed.
- A marketing or order-updates choice the customer made themselves (in chat,
  by SMS) is newer than the sheet and is kept; so is a cancellation made in chat. Both give a warning.
- A customer who was erased is not brought back: their rows are rejected.
- A bad row is rejected with its file, line and reason; the rest is imported.
  Nothing is committed here: the caller's unit of work commits.
"""

from __future__ import annotations

import logging
from datetime import timedelta, tzinfo
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm.csvfile import CsvFileError, ImportReport, Record, RowProblem, read_records
from crm.import_orders import Catalogue, apply_order
from crm.import_rows import (
    CUSTOMER_COLUMNS,
    ORDER_COLUMNS,
    REQUIRED_CUSTOMER,
    REQUIRED_ORDER,
    CustomerRow,
    parse_customer,
    parse_order,
)
from crm.models import AuditEntry, ChannelIdentity, Consent, Customer
from crm.services.audit import audit
from crm.services.consents import CONSENT_KIND, latest_consent
from crm.services.customers import erased_tag
from crm.shop import load_shop_profile

__all__ = ["ImportReport", "RowProblem", "import_customers", "import_orders"]

log = logging.getLogger(__name__)


def _records_or_reject(
    path: Path, columns: tuple[str, ...], required: tuple[str, ...], report: ImportReport
) -> list[Record] | None:
    """The file's records, or None with the whole file rejected (line 0) when it cannot be read."""
    try:
        return list(read_records(path, columns, required))
    except CsvFileError as exc:
        report.reject(0, str(exc))
        return None


def import_customers(
    session: Session, path: Path | str, *, default_region: str = "GB", actor: str = "system:import"
) -> ImportReport:
    """Import customers.csv; `default_region` reads phone numbers written without +code."""
    path = Path(path)
    report = ImportReport(file=path.name)
    records = _records_or_reject(path, CUSTOMER_COLUMNS, REQUIRED_CUSTOMER, report)
    if records is None:
        return report
    erased = _erased_customer_ids(session)
    seen = _SeenInFile()
    for record in records:
        if record.problem:
            report.reject(record.line, record.problem)
            continue
        row = parse_customer(record.values, default_region=default_region)
        if isinstance(row, list):
            report.reject(record.line, "; ".join(row))
            continue
        conflict = seen.customer_conflict(row) or _stored_conflict(session, row, erased)
        if conflict:
            report.reject(record.line, conflict)
            continue
        seen.add_customer(row, record.line)
        _apply_customer(session, row, record.line, report)
    _no_longer_demo(session, actor, list(seen.ids))
    _audit_import(session, actor, "crm.import_customers", report)
    return report


DEMO_ACTOR = "system:demo"


def _no_longer_demo(session: Session, actor: str, customer_ids: list[str]) -> None:
    """A row the shop imports is the shop's own, even where it reuses a demo customer's id:
    demo sign-in must never reach it."""
    if actor == DEMO_ACTOR or not customer_ids:
        return
    session.flush()
    session.execute(
        update(Customer)
        .where(Customer.external_id.in_(customer_ids))
        .values(is_demo=False)
        .execution_options(synchronize_session="fetch")
    )


class _SeenInFile:
    """Values earlier rows of the same file claimed, and on which line."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self.telegram: dict[str, int] = {}

    def customer_conflict(self, row: CustomerRow) -> str | None:
        if row.customer_id in self.ids:
            return f"duplicate customer_id {row.customer_id} (also on line {self.ids[row.customer_id]})"
        if row.email in self.emails:
            return f"duplicate e-mail (also on line {self.emails[row.email]})"
        if row.telegram_user_id in self.telegram:
            return f"duplicate telegram_user_id (also on line {self.telegram[row.telegram_user_id]})"
        return None

    def add_customer(self, row: CustomerRow, line: int) -> None:
        self.ids[row.customer_id] = line
        if row.email:
            self.emails[row.email] = line
        if row.telegram_user_id:
            self.telegram[row.telegram_user_id] = line


class _Erased:
    """Customers erased at their request, known only by their one-way tags
    (and, from before tags, by the ids older audit entries still hold)."""

    def __init__(self, subjects: set[str]) -> None:
        self._subjects = subjects

    def __contains__(self, customer_id: object) -> bool:
        return isinstance(customer_id, str) and bool(
            {customer_id, erased_tag(customer_id)} & self._subjects
        )


def _erased_customer_ids(session: Session) -> _Erased:
    subjects = session.scalars(select(AuditEntry.subject).where(AuditEntry.action == "customer.erase"))
    return _Erased({subject.removeprefix("customer:") for subject in subjects})


def _stored_conflict(session: Session, row: CustomerRow, erased: _Erased) -> str | None:
    if row.customer_id in erased:
        return f"customer {row.customer_id} was erased at their request; remove the row"
    if row.email:
        owner = session.scalar(
            select(Customer.external_id).where(
                func.lower(Customer.email) == row.email, Customer.external_id != row.customer_id
            )
        )
        if owner is not None:
            return f"duplicate e-mail: already used by customer {owner}"
    if row.telegram_user_id:
        owner = session.scalar(
            select(Customer.external_id)
            .join(ChannelIdentity)
            .where(
                ChannelIdentity.channel == "telegram",
                ChannelIdentity.external_user_id == row.telegram_user_id,
                Customer.external_id != row.customer_id,
            )
        )
        if owner is not None:
            return f"telegram_user_id is already linked to customer {owner}"
    return None


def _apply_customer(session: Session, row: CustomerRow, line: int, report: ImportReport) -> None:
    customer = session.scalars(select(Customer).where(Customer.external_id == row.customer_id)).first()
    created = customer is None
    if customer is None:
        customer = Customer(
            external_id=row.customer_id, first_name=row.first_name, last_name="", locale="en", marketing_opt_in=False
        )
        session.add(customer)
    changed = False
    for attribute in ("first_name", "last_name", "email", "phone", "locale"):
        value = getattr(row, attribute)
        if value is not None and getattr(customer, attribute) != value:
            setattr(customer, attribute, value)
            changed = True
    if row.marketing_opt_in is not None and row.marketing_opt_in != customer.marketing_opt_in:
        own_choice = None if created else _latest_own_marketing_choice(session, customer)
        if own_choice is not None:
            report.warn(
                line,
                f"marketing_opt_in left as {'yes' if customer.marketing_opt_in else 'no'}: "
                f"the customer chose that themselves (via {own_choice.source})",
            )
        else:
            customer.marketing_opt_in = row.marketing_opt_in
            customer.consents.append(Consent(kind="marketing", granted=row.marketing_opt_in, source="import"))
            changed = True
    if row.order_updates_opt_in is not None and row.order_updates_opt_in != customer.order_updates_opt_in:
        own = None if created else _latest_own_choice(session, customer, CONSENT_KIND)
        if own is not None:
            report.warn(
                line,
                f"order_updates_opt_in left as {'yes' if customer.order_updates_opt_in else 'no'}: "
                f"the customer chose that themselves (via {own.source})",
            )
        else:
            customer.order_updates_opt_in = row.order_updates_opt_in
            customer.consents.append(Consent(kind=CONSENT_KIND, granted=row.order_updates_opt_in, source="import"))
            changed = True
    if row.telegram_user_id and not any(
        i.channel == "telegram" and i.external_user_id == row.telegram_user_id for i in customer.identities
    ):
        customer.identities.append(ChannelIdentity(channel="telegram", external_user_id=row.telegram_user_id))
        changed = True
    session.flush()
    report.count(created=created, changed=changed)


def _latest_own_marketing_choice(session: Session, customer: Customer) -> Consent | None:
    return _latest_own_choice(session, customer, "marketing")


def _latest_own_choice(session: Session, customer: Customer, kind: str) -> Consent | None:
    """The latest consent record of this kind, if the customer made it (not an import)."""
    latest = latest_consent(session, customer=customer, kind=kind)
    return latest if latest is not None and latest.source != "import" else None


def import_orders(
    session: Session,
    path: Path | str,
    *,
    tz: tzinfo | None = None,
    default_currency: str | None = None,
    date_shift: timedelta = timedelta(0),
    actor: str = "system:import",
) -> ImportReport:
    """Import orders.csv. `tz` and `default_currency` default to the shop
    profile's; `date_shift` moves every date (the demo data stays recent with it)."""
    path = Path(path)
    report = ImportReport(file=path.name)
    if tz is None or default_currency is None:
        profile = load_shop_profile()
        tz = tz or profile.opening_hours.tz
        default_currency = default_currency or profile.currency
    records = _records_or_reject(path, ORDER_COLUMNS, REQUIRED_ORDER, report)
    if records is None:
        return report
    erased = _erased_customer_ids(session)
    customers = {c.external_id: c for c in session.scalars(select(Customer))}
    catalogue = Catalogue(session)
    seen: dict[str, int] = {}
    for record in records:
        if record.problem:
            report.reject(record.line, record.problem)
            continue
        row = parse_order(record.values, tz=tz, shift=date_shift)
        if isinstance(row, list):
            report.reject(record.line, "; ".join(row))
            continue
        customer = customers.get(row.customer_id)
        if customer is None:
            if row.customer_id in erased:
                report.reject(record.line, f"customer {row.customer_id} was erased at their request; remove the row")
            else:
                report.reject(record.line, f"unknown customer {row.customer_id}")
            continue
        if row.number in seen:
            report.reject(record.line, f"duplicate order number {row.number} (also on line {seen[row.number]})")
            continue
        seen[row.number] = record.line
        apply_order(session, row, customer, catalogue, default_currency, record.line, report)
        if actor != DEMO_ACTOR:
            customer.is_demo = False  # the shop's own order: a real customer now
    _audit_import(session, actor, "crm.import_orders", report)
    return report


def _audit_import(session: Session, actor: str, action: str, report: ImportReport) -> None:
    log.info("%s", report.summary())
    audit(
        session,
        actor=actor,
        action=action,
        subject=f"file:{report.file}",
        detail={
            "imported": report.imported,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        },
    )
