"""crm.services.customers: identity, segments, consent, what we hold, erasure."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import (
    AuditEntry,
    ChannelIdentity,
    Consent,
    Conversation,
    Customer,
    Feedback,
    Handoff,
    Message,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ReturnRequest,
    Sender,
)
from crm.services import (
    customer_segment,
    erase_customer,
    find_customer_by_channel_identity,
    find_customer_by_phone,
    get_customer,
    get_customer_by_external_id,
    link_channel_identity,
    set_marketing_consent,
    stored_data_summary,
)
from crm.settings import get_settings
from tests.factories import (
    make_conversation,
    make_customer,
    make_feedback,
    make_handoff,
    make_message,
    make_order,
    make_return,
    make_staff_user,
)


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]


def test_get_customer_by_external_id(session: Session) -> None:
    customer = make_customer(session, external_id="C100")
    assert get_customer_by_external_id(session, external_id="C100") is customer
    assert get_customer_by_external_id(session, external_id="  C100 ") is customer
    assert get_customer_by_external_id(session, external_id="C999") is None
    assert get_customer_by_external_id(session, external_id="  ") is None
    assert get_customer(session, customer_id=customer.id) is customer


def test_find_customer_by_phone_normalises_the_input(session: Session) -> None:
    customer = make_customer(session, phone="+447700900555")
    assert find_customer_by_phone(session, phone="07700 900555") is customer
    assert find_customer_by_phone(session, phone="+44 7700 900555") is customer
    assert find_customer_by_phone(session, phone="07700 900556") is None
    assert find_customer_by_phone(session, phone="not a number") is None


def test_a_shared_phone_number_identifies_nobody(session: Session) -> None:
    make_customer(session, phone="+447700900557")
    make_customer(session, phone="+447700900557")
    assert find_customer_by_phone(session, phone="07700 900557") is None


def test_find_customer_by_channel_identity(session: Session) -> None:
    customer = make_customer(session, telegram_user_id=777001)
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id=777001) is customer
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id="777001") is customer
    assert find_customer_by_channel_identity(session, channel="sms", external_user_id="777001") is None
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id="777002") is None


def test_link_channel_identity_is_idempotent(session: Session) -> None:
    customer = make_customer(session)
    first = link_channel_identity(session, customer=customer, channel="telegram", external_user_id=42)
    again = link_channel_identity(session, customer=customer, channel="telegram", external_user_id="42")
    assert first.id == again.id
    assert first.customer_id == customer.id
    assert _count(session, ChannelIdentity, ChannelIdentity.customer_id == customer.id) == 1
    assert _count(session, AuditEntry, AuditEntry.action == "identity.link") == 1
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id=42) is customer


def test_an_identity_never_moves_to_another_customer(session: Session) -> None:
    owner = make_customer(session)
    intruder = make_customer(session)
    link_channel_identity(session, customer=owner, channel="telegram", external_user_id=43)
    with pytest.raises(ValueError, match="another customer"):
        link_channel_identity(session, customer=intruder, channel="telegram", external_user_id=43)
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id=43) is owner


class TestSegment:
    def test_no_orders_is_new(self, session: Session) -> None:
        assert customer_segment(session, customer=make_customer(session)) == "new"

    def test_one_order_is_new(self, session: Session) -> None:
        customer = make_customer(session)
        make_order(session, customer=customer, total="20.00")
        assert customer_segment(session, customer=customer) == "new"

    def test_two_orders_is_returning(self, session: Session) -> None:
        customer = make_customer(session)
        make_order(session, customer=customer, total="20.00")
        make_order(session, customer=customer, total="20.00")
        assert customer_segment(session, customer=customer) == "returning"

    def test_lifetime_spend_at_the_threshold_is_vip(self, session: Session) -> None:
        customer = make_customer(session)
        long_ago = utcnow() - timedelta(days=800)
        make_order(session, customer=customer, total="300.00", placed_at=long_ago)
        make_order(session, customer=customer, total="199.99", placed_at=long_ago)
        assert customer_segment(session, customer=customer) == "returning"
        make_order(session, customer=customer, total="0.01", placed_at=long_ago)
        assert get_settings().vip_spend_threshold == 500.0
        assert customer_segment(session, customer=customer) == "vip"

    def test_cancelled_orders_are_not_spend(self, session: Session) -> None:
        customer = make_customer(session)
        make_order(session, customer=customer, total="450.00")
        make_order(session, customer=customer, total="450.00", status=OrderStatus.cancelled)
        assert customer_segment(session, customer=customer) == "returning"

    def test_many_orders_in_the_last_year_is_vip(self, session: Session) -> None:
        customer = make_customer(session)
        now = utcnow()
        for days in (10, 60, 120, 200):
            make_order(session, customer=customer, total="10.00", placed_at=now - timedelta(days=days))
        make_order(session, customer=customer, total="10.00", placed_at=now - timedelta(days=400))
        assert customer_segment(session, customer=customer, now=now) == "returning"
        make_order(session, customer=customer, total="10.00", placed_at=now - timedelta(days=300))
        assert customer_segment(session, customer=customer, now=now) == "vip"
        # A year later the same orders are too old to count.
        assert customer_segment(session, customer=customer, now=now + timedelta(days=365)) == "returning"

    def test_thresholds_come_from_the_settings(self, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
        customer = make_customer(session)
        make_order(session, customer=customer, total="60.00")
        make_order(session, customer=customer, total="60.00")
        assert customer_segment(session, customer=customer) == "returning"
        monkeypatch.setattr(get_settings(), "vip_spend_threshold", 100.0)
        assert customer_segment(session, customer=customer) == "vip"
        monkeypatch.setattr(get_settings(), "vip_spend_threshold", 1000.0)
        monkeypatch.setattr(get_settings(), "vip_order_threshold", 2)
        assert customer_segment(session, customer=customer) == "vip"


def test_set_marketing_consent_records_every_change(session: Session) -> None:
    customer = make_customer(session, marketing_opt_in=True, email="consent@example.com")
    result = set_marketing_consent(session, customer=customer, granted=False, source="telegram")
    assert result is customer and customer.marketing_opt_in is False
    set_marketing_consent(session, customer=customer, granted=True, source="web", actor="staff:2")
    session.flush()
    consents = session.scalars(select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.id)).all()
    assert [(c.kind, c.granted, c.source) for c in consents] == [
        ("marketing", False, "telegram"),
        ("marketing", True, "web"),
    ]
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "consent.marketing").order_by(AuditEntry.id)
    ).all()
    assert [e.actor for e in entries] == [f"customer:{customer.external_id}", "staff:2"]
    assert all("consent@example.com" not in json.dumps(e.detail) + e.subject + e.actor for e in entries)


def _customer_with_everything(session: Session, *, phone: str) -> tuple[Customer, list[str]]:
    customer = make_customer(
        session, first_name="Erin", last_name="Example", email="erin@example.com", phone=phone, telegram_user_id=9001
    )
    set_marketing_consent(session, customer=customer, granted=True, source="web")
    first = make_order(session, customer=customer, lines=[("Mug", 2), ("Tea", 1)])
    make_return(session, order=first)
    make_order(session, customer=customer, status=OrderStatus.paid)
    linked = make_conversation(session, channel="web", customer=customer)
    staff = make_staff_user(session)
    make_message(session, conversation=linked, text="my address is 1 Secret Lane")
    make_message(session, conversation=linked, sender=Sender.agent, text="thanks Erin", staff_user_id=staff.id)
    make_handoff(session, conversation=linked, customer=customer, slots={"email": "erin@example.com"})
    make_feedback(session, conversation_id=linked.id, customer=customer, score=4, comment="lovely")
    # Before verification: an SMS thread from their number and a Telegram chat, not yet linked.
    sms = make_conversation(session, channel="sms", address=phone)
    make_message(session, conversation=sms, text="hi it's Erin")
    telegram = make_conversation(session, channel="telegram", address="9001")
    make_message(session, conversation=telegram, text="hello")
    make_feedback(session, conversation_id=telegram.id, score=2)
    # Handed to staff on their behalf, though the conversation itself was never linked.
    handed = make_conversation(session, channel="web")
    make_handoff(session, conversation=handed, customer=customer, reason="complaint")
    make_message(session, conversation=handed, text="it arrived broken")
    return customer, sorted([linked.id, sms.id, telegram.id, handed.id])


def test_stored_data_summary_counts_each_category(session: Session) -> None:
    customer, _ = _customer_with_everything(session, phone="+447700900601")
    assert stored_data_summary(session, customer=customer) == {
        "profile_fields": 6,
        "orders": 2,
        "returns": 1,
        "conversations": 4,
        "messages": 5,
        "feedback": 2,
        "consent_records": 1,
        "channel_identities": 1,
    }
    bare = make_customer(session, last_name="", email=None)
    summary = stored_data_summary(session, customer=bare)
    assert summary["profile_fields"] == 3  # first name, locale, marketing choice
    assert set(summary.values()) - {3} == {0}


def test_erase_customer_leaves_nothing_but_one_audit_entry(session: Session) -> None:
    customer, conversation_ids = _customer_with_everything(session, phone="+447700900602")
    bystander = make_customer(session, first_name="Bea", email="bea@example.com", telegram_user_id=9002)
    their_order = make_order(session, customer=bystander, lines=[("Mug", 1)])
    their_chat = make_conversation(session, customer=bystander)
    make_message(session, conversation=their_chat, text="Bea here")
    customer_id, order_ids = customer.id, [o.id for o in customer.orders]
    audit_before = _count(session, AuditEntry)

    erased = erase_customer(session, customer=customer, actor="staff:1")
    session.flush()

    assert erased == conversation_ids
    assert session.get(Customer, customer_id) is None
    assert _count(session, Order, Order.customer_id == customer_id) == 0
    assert _count(session, OrderLine, OrderLine.order_id.in_(order_ids)) == 0
    assert _count(session, ReturnRequest, ReturnRequest.order_id.in_(order_ids)) == 0
    assert _count(session, ChannelIdentity, ChannelIdentity.customer_id == customer_id) == 0
    assert _count(session, Consent, Consent.customer_id == customer_id) == 0
    assert _count(session, Conversation, Conversation.id.in_(conversation_ids)) == 0
    assert _count(session, Message, Message.conversation_id.in_(conversation_ids)) == 0
    assert _count(session, Handoff, Handoff.conversation_id.in_(conversation_ids)) == 0
    assert _count(session, Handoff, Handoff.customer_id == customer_id) == 0
    assert _count(session, Feedback, Feedback.conversation_id.in_(conversation_ids)) == 0
    assert _count(session, Feedback, Feedback.customer_id == customer_id) == 0

    assert _count(session, AuditEntry) == audit_before + 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erase")).one()
    assert entry.actor == "staff:1"
    assert entry.detail["orders"] == 2 and entry.detail["messages"] == 5 and entry.detail["conversations"] == 4
    everything_audited = json.dumps(
        [[e.actor, e.action, e.subject, e.detail] for e in session.scalars(select(AuditEntry))]
    )
    for personal in ("Erin", "Example", "erin@example.com", "+447700900602", "7700900602", "Secret Lane", "9001"):
        assert personal not in everything_audited

    # Everyone else is untouched, and the session is still usable.
    assert session.get(Customer, bystander.id) is bystander
    assert session.get(Order, their_order.id) is not None
    assert _count(session, Message, Message.conversation_id == their_chat.id) == 1
    assert find_customer_by_channel_identity(session, channel="telegram", external_user_id=9002) is bystander
    assert _count(session, Product, Product.name == "Mug") == 1
    bystander.first_name = "Beatrice"
    session.flush()
