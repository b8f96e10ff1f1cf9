"""crm.models.customers: one row per shop customer id, e-mail and channel address; what goes with a customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import AuditEntry, ChannelIdentity, Consent, Customer, Order
from tests.factories import make_customer, make_order


def test_defaults_of_a_new_customer(session: Session) -> None:
    customer = Customer(external_id="D1", first_name="Dee")
    session.add(customer)
    session.flush()
    assert (customer.last_name, customer.locale, customer.marketing_opt_in, customer.is_demo) == ("", "en", False, False)
    assert customer.order_updates_opt_in is None  # never asked: nothing is sent
    assert customer.created_at is not None and customer.updated_at is not None


def test_customer_ids_e_mails_and_channel_addresses_are_unique(
    session: Session, refused: Callable[..., None]
) -> None:
    first = make_customer(session, external_id="U1", email="u1@example.com", telegram_user_id=7001)
    refused(Customer(external_id="U1", first_name="Again"))
    refused(Customer(external_id="U2", first_name="Same mail", email="u1@example.com"))
    refused(ChannelIdentity(customer_id=first.id, channel="telegram", external_user_id="7001"))
    # The same number on another channel, and customers without an e-mail, are fine.
    session.add_all([
        ChannelIdentity(customer_id=first.id, channel="sms", external_user_id="7001"),
        Customer(external_id="U3", first_name="No mail", email=None),
        Customer(external_id="U4", first_name="No mail either", email=None),
    ])  # fmt: skip
    session.flush()
    assert session.scalar(select(func.count()).select_from(Customer)) == 3


def test_a_customers_identities_orders_and_consents_go_with_them(session: Session) -> None:
    customer = make_customer(session, external_id="G1", telegram_user_id=7002)
    make_order(session, customer=customer, number="9101")
    session.add(Consent(customer=customer, kind="marketing", granted=True, source="import"))
    session.flush()
    session.delete(customer)
    session.flush()
    for model in (ChannelIdentity, Order, Consent):
        assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_a_customers_orders_read_newest_first(session: Session) -> None:
    customer = make_customer(session)
    for number, day in (("9201", 3), ("9202", 9), ("9203", 1)):
        make_order(session, customer=customer, number=number, placed_at=datetime(2026, 5, day, tzinfo=timezone.utc))
    session.expire(customer, ["orders"])
    assert [o.number for o in customer.orders] == ["9202", "9201", "9203"]


def test_an_audit_entry_without_detail_holds_an_empty_object(session: Session, stored: Callable[[str], Any]) -> None:
    session.add(AuditEntry(actor="system", action="crm.test"))
    session.flush()
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.subject, entry.detail) == ("", {})
    assert stored("SELECT detail FROM audit_log") in ({}, "{}")
