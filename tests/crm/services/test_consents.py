"""crm.services.consents: consent history, and who may change a customer's choice.

Moved from tests/crm/services/test_notices.py with the code (crm/services/notices.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import AuditEntry, Customer
from crm.services import consents
from crm.services.shop_sync import CustomerUpdate, IncomingEvent, receive
from tests.factories import make_customer

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)


def _event(key: str, source: str = "shopify") -> IncomingEvent:
    return IncomingEvent(source=source, key=key, topic="orders/updated", payload={"k": key})


def test_consent_changes_are_kept_as_history_and_audited(session: Session) -> None:
    customer = make_customer(session)
    assert customer.order_updates_opt_in is None
    assert consents.set_consent(session, customer=customer, granted=True, source="telegram")
    assert not consents.set_consent(session, customer=customer, granted=True, source="web")  # no change, no line
    assert consents.set_consent(session, customer=customer, granted=False, source="sms")
    history = [(c.kind, c.granted, c.source) for c in consents.consent_history(session, customer=customer)]
    assert history == [("order_updates", True, "telegram"), ("order_updates", False, "sms")]
    assert customer.order_updates_opt_in is False
    audits = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "consent.order_updates"))
    assert audits == 2


def test_the_platforms_consent_applies_unless_the_customer_chose_in_chat(session: Session) -> None:
    update = CustomerUpdate(external_id="API-1", email="api1@example.com", first_name="Al",
                            updated_at=T0, order_updates_opt_in=True)
    receive(session, event=_event("c1", source="api"), update=update)
    customer = session.scalars(select(Customer).where(Customer.external_id == "API-1")).one()
    assert customer.order_updates_opt_in is True
    consents.set_consent(session, customer=customer, granted=False, source="telegram")
    later = CustomerUpdate(external_id="API-1", updated_at=T0 + timedelta(hours=1), order_updates_opt_in=True)
    receive(session, event=_event("c2", source="api"), update=later)
    assert customer.order_updates_opt_in is False
    assert [(c.granted, c.source) for c in consents.consent_history(session, customer=customer)] == [
        (True, "api"), (False, "telegram")]
