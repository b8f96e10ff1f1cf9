"""What we hold, marketing consent, and erasure: verified customers only."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.privacy import (
    NEEDS_VERIFICATION,
    ActionDataSummary,
    ActionEraseCustomerData,
    ActionNewsletter,
    ActionNewsletterAnswer,
    describe_counts,
    newsletter_choice,
)
from crm.models import AuditEntry, Consent, Conversation, Customer, Order
from crm.services.audit import audit
from crm.services.customers import erased_tag
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
    user_event,
)
from tests.factories import make_conversation, make_customer, make_feedback, make_message, make_order

pytestmark = pytest.mark.usefixtures("crm")

AS_CUSTOMER = {"customer_id": "CP1", "channel": "telegram"}


@pytest.fixture
def customer(session: Session) -> Customer:
    customer = make_customer(
        session, external_id="CP1", first_name="Priya", email="priya@example.com", phone="+447700900123"
    )
    make_order(session, customer=customer, number="7001")
    make_order(session, customer=customer, number="7002")
    conversation = make_conversation(session, conversation_id="conv-p-old", customer=customer)
    make_message(session, conversation=conversation, text="where is my order")
    make_feedback(session, conversation_id="conv-p-old", customer=customer, score=4)
    return customer


def _audit(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# -- what do you store about me ------------------------------------------------------


def test_data_summary_lists_categories_and_counts(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="what do you know about me", intent="data_access", metadata=AS_CUSTOMER)
    events, messages = run_action(ActionDataSummary(), tracker)
    said = texts(messages)
    assert "• 2 orders" in said
    assert "• 1 conversation with us" in said
    assert "• 1 rating you gave us" in said
    assert "not subscribed to our newsletter" in said
    # Counts only: no contact details or message content read back.
    assert "priya@example.com" not in said and "where is my order" not in said
    assert events == []
    [entry] = _audit(session, "customer.data_summary")
    assert entry.subject == "customer:CP1" and "priya" not in str(entry.detail)


def test_data_summary_refuses_the_unverified(session: Session, customer: Customer) -> None:
    tracker = make_tracker(
        text="what do you know about me", intent="data_access",
        slots={"customer_id": "CP1", "verified": False, "email": "priya@example.com"},
    )
    _, messages = run_action(ActionDataSummary(), tracker)
    assert texts(messages) == NEEDS_VERIFICATION
    assert _audit(session, "customer.data_summary") == []


def test_describe_counts_skips_empty_categories_and_words_unknown_ones() -> None:
    summary = {"orders": 1, "returns": 0, "loyalty_points": 3}
    assert describe_counts(summary) == ["1 order", "3 loyalty points"]


# -- newsletter ----------------------------------------------------------------------------


def _consents(session: Session, customer: Customer) -> list[Consent]:
    session.expire_all()
    return list(session.scalars(select(Consent).where(Consent.customer_id == customer.id)))


def test_unsubscribe_from_the_message_text(session: Session, customer: Customer) -> None:
    customer.marketing_opt_in = True
    session.flush()
    tracker = make_tracker(
        text="please stop sending me marketing emails", intent="newsletter", metadata=AS_CUSTOMER
    )
    events, messages = run_action(ActionNewsletter(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is False
    [consent] = _consents(session, customer)
    assert (consent.kind, consent.granted, consent.source) == ("marketing", False, "telegram")
    assert "won't get any more marketing e-mails" in texts(messages)
    assert slot_events(events) == {"newsletter_asked": False}


def test_subscribe_from_the_message_text(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="sign me up for the newsletter", intent="newsletter", metadata=AS_CUSTOMER)
    run_action(ActionNewsletter(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is True
    assert [c.granted for c in _consents(session, customer)] == [True]


def test_unclear_asks_with_buttons_and_changes_nothing(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="newsletter", intent="newsletter", metadata=AS_CUSTOMER)
    events, messages = run_action(ActionNewsletter(), tracker)
    assert slot_events(events) == {"newsletter_asked": True}
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert _consents(session, customer) == []


def test_yes_to_the_question_subscribes(session: Session, customer: Customer) -> None:
    tracker = make_tracker(
        text="yes", intent="affirm", metadata=AS_CUSTOMER, slots={"newsletter_asked": True},
        history=[user_event("newsletter", "newsletter")],
    )
    events, _ = run_action(ActionNewsletterAnswer(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is True
    assert slot_events(events) == {"newsletter_asked": False}


def test_no_to_the_question_unsubscribes(session: Session, customer: Customer) -> None:
    customer.marketing_opt_in = True
    session.flush()
    tracker = make_tracker(
        text="no", intent="deny", metadata=AS_CUSTOMER, slots={"newsletter_asked": True},
        history=[user_event("what about the newsletter", "newsletter")],
    )
    run_action(ActionNewsletterAnswer(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is False


def test_a_yes_that_answers_no_question_is_not_consent(session: Session, customer: Customer) -> None:
    tracker = make_tracker(
        text="ok", intent="affirm", metadata=AS_CUSTOMER, slots={"newsletter_asked": False},
        history=[user_event("newsletter", "newsletter")],
    )
    events, _ = run_action(ActionNewsletter(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is False
    assert slot_events(events) == {"newsletter_asked": True}


def test_after_verification_the_original_request_is_read(session: Session, customer: Customer) -> None:
    customer.marketing_opt_in = True
    session.flush()
    tracker = make_tracker(
        text="priya@example.com", intent="inform",
        slots={"customer_id": "CP1", "verified": True},
        history=[user_event("unsubscribe me from your emails", "newsletter"), user_event("7001", "inform")],
    )
    run_action(ActionNewsletter(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is False


def test_no_change_no_new_consent_record(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="unsubscribe", intent="newsletter", metadata=AS_CUSTOMER)
    _, messages = run_action(ActionNewsletter(), tracker)
    assert _consents(session, customer) == []
    assert "won't get any more marketing e-mails" in texts(messages)


def test_newsletter_refuses_the_unverified(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="subscribe me", intent="newsletter", slots={"email": "priya@example.com"})
    _, messages = run_action(ActionNewsletter(), tracker)
    session.refresh(customer)
    assert customer.marketing_opt_in is False
    assert texts(messages) == NEEDS_VERIFICATION


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("unsubscribe me", False),
        ("i don't want your newsletter", False),
        ("how do i get off your mailing list", False),
        ("you send too many emails", False),
        ("opt out of marketing", False),
        ("subscribe me to the newsletter", True),
        ("sign me up", True),
        ("i'd like to get your newsletter", True),
        ("newsletter", None),
        ("x" * 5000, None),
        (None, None),
    ],
)
def test_newsletter_choice(text: str | None, choice: bool | None) -> None:
    assert newsletter_choice(text) is choice


# -- erasure -------------------------------------------------------------------------------


def test_erasure_deletes_the_customer_and_names_the_conversations(
    session: Session, customer: Customer
) -> None:
    other = make_customer(session, external_id="CP2")
    make_order(session, customer=other, number="7100")
    # What the log said about Priya before: by id, by conversation and by order.
    audit(session, actor="customer:CP1", action="identity.verify", subject="conversation:conv-p-old")
    audit(session, actor="customer:CP1", action="order.cancel", subject="order:7001")
    audit(session, actor="customer:CP2", action="order.cancel", subject="order:7100")
    session.flush()
    tracker = make_tracker(text="yes", intent="affirm", metadata=AS_CUSTOMER, sender_id="conv-p-now",
                           slots={"customer_id": "CP1", "verified": True, "customer_first_name": "Priya"})
    events, messages = run_action(ActionEraseCustomerData(), tracker)

    session.expire_all()
    assert session.scalars(select(Customer).where(Customer.external_id == "CP1")).first() is None
    assert session.get(Conversation, "conv-p-old") is None
    assert {o.number for o in session.scalars(select(Order))} >= {"7100"}
    assert session.scalars(select(Order).where(Order.number.in_(["7001", "7002"]))).all() == []
    # Someone else's data is untouched.
    assert session.scalars(select(Customer).where(Customer.external_id == "CP2")).first() is not None

    slots = slot_events(events)
    assert slots["erased_conversations"] == ["conv-p-old", "conv-p-now"]
    assert slots["customer_id"] is None and slots["verified"] is False
    assert slots["customer_first_name"] is None and slots["email"] is None
    said = texts(messages)
    assert said.startswith("Done. I've deleted") and "2 orders" in said

    [entry] = _audit(session, "customer.erase")
    # The log keeps that an erasure happened, not whose: a one-way tag instead of the id.
    assert entry.subject == f"customer:{erased_tag('CP1')}" and entry.actor == "customer:erased"
    assert "priya" not in str(entry.detail).lower()
    everything = " ".join(f"{e.actor} {e.subject} {e.detail}" for e in session.scalars(select(AuditEntry)))
    assert "CP1" not in everything and "conv-p-old" not in everything and "7001" not in everything
    # Someone else's entries keep their names.
    assert "customer:CP2" in everything and "order:7100" in everything


def test_erasure_refuses_the_unverified(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="yes", intent="affirm", slots={"customer_id": "CP1", "verified": False})
    events, messages = run_action(ActionEraseCustomerData(), tracker)
    assert events == []
    assert texts(messages) == NEEDS_VERIFICATION
    session.expire_all()
    assert session.scalars(select(Customer).where(Customer.external_id == "CP1")).first() is not None


def test_erasure_of_an_unknown_customer_erases_nothing(session: Session, customer: Customer) -> None:
    tracker = make_tracker(text="yes", intent="affirm", metadata={"customer_id": "GONE"})
    events, messages = run_action(ActionEraseCustomerData(), tracker)
    assert events == [] and texts(messages) == NEEDS_VERIFICATION
