"""What a customer agreed to: order-updates consent, its history, and who may change it.

Every change is a `Consent` row and an audit line. A choice the customer made
themselves (in chat, on the web) outranks what a platform or a sheet says later.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Consent, Customer
from crm.services.audit import audit

CONSENT_KIND = "order_updates"


def set_consent(
    session: Session, *, customer: Customer, granted: bool, source: str, actor: str | None = None
) -> bool:
    """Record a change of the customer's order-updates choice; False if it was already so."""
    if customer.order_updates_opt_in is granted:
        return False
    customer.order_updates_opt_in = granted
    record_consent(session, customer=customer, kind=CONSENT_KIND, granted=granted, source=source, actor=actor)
    return True


def record_consent(
    session: Session, *, customer: Customer, kind: str, granted: bool, source: str, actor: str | None = None
) -> None:
    """One line of consent history and its audit entry (`consent.<kind>`); `actor` defaults to the customer."""
    session.add(Consent(customer_id=customer.id, kind=kind, granted=granted, source=source[:20]))
    audit(
        session,
        actor=actor or f"customer:{customer.external_id}",
        action=f"consent.{kind}",
        subject=f"customer:{customer.external_id}",
        detail={"granted": granted, "source": source[:20]},
    )


# Where a customer chose for themselves; a platform or a sheet never overrides these.
OWN_SOURCES = ("web", "telegram", "sms", "rasa", "shell")


def consent_from_platform(session: Session, *, customer: Customer, granted: bool, source: str) -> bool:
    """The platform's record of the choice, unless the customer later chose in chat themselves."""
    latest = latest_consent(session, customer=customer, kind=CONSENT_KIND)
    if latest is not None and latest.source in OWN_SOURCES:
        return False
    return set_consent(session, customer=customer, granted=granted, source=source, actor=f"platform:{source}")


def consent_history(session: Session, *, customer: Customer) -> list[Consent]:
    return list(
        session.scalars(
            select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.created_at, Consent.id)
        )
    )


def latest_consent(session: Session, *, customer: Customer, kind: str) -> Consent | None:
    """The customer's latest consent record of this kind, if any."""
    return session.scalars(
        select(Consent)
        .where(Consent.customer_id == customer.id, Consent.kind == kind)
        .order_by(Consent.created_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()
