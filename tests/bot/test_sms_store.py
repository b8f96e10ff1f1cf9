"""Who a number is and whether it may be texted, straight against the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import sms_store
from bot.core.messages import InboundMessage
from crm.clock import utcnow
from crm.models import Consent, Conversation, ConversationState, Message, Sender
from tests.factories import make_customer
from tests.fakes.twilio import message_sid

NUMBER = "+447700900321"


def conversation(session: Session, number: str = NUMBER, customer_id: int | None = None) -> Conversation:
    row = Conversation(
        id=f"c{message_sid()[2:18]}", channel="sms", address=number, customer_id=customer_id,
        state=ConversationState.bot,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def said(session: Session, row: Conversation, text: str, *, minutes_ago: int = 0) -> None:
    session.add(
        Message(
            conversation_id=row.id, channel="sms", channel_message_id=message_sid(), sender=Sender.customer,
            text=text, created_at=utcnow() - timedelta(minutes=minutes_ago),
        )  # fmt: skip
    )
    session.flush()


def inbound(row: Conversation, text: str) -> InboundMessage:
    return InboundMessage(channel="sms", conversation_id=row.id, channel_message_id=message_sid(), text=text)


def test_a_number_may_be_texted_until_it_says_stop_and_again_after_start(session: Session) -> None:
    row = conversation(session)
    assert sms_store.may_text(session, number=NUMBER)
    said(session, row, "STOP", minutes_ago=5)
    assert not sms_store.may_text(session, number=NUMBER)
    said(session, row, "hello?", minutes_ago=4)
    assert not sms_store.may_text(session, number=NUMBER)
    said(session, row, "start", minutes_ago=3)
    assert sms_store.may_text(session, number=NUMBER)
    # Another number is not affected.
    said(session, conversation(session, "+447700900322"), "quit")
    assert sms_store.may_text(session, number=NUMBER)
    assert not sms_store.may_text(session, number="+447700900322")


def test_the_stop_holds_across_the_numbers_conversations(session: Session) -> None:
    said(session, conversation(session), "Unsubscribe", minutes_ago=10)
    conversation(session)  # a newer thread at the same number
    assert not sms_store.may_text(session, number=NUMBER)


def test_the_newest_of_keyword_and_consent_row_decides(session: Session) -> None:
    customer = make_customer(session, phone=NUMBER)
    row = conversation(session, customer_id=customer.id)
    said(session, row, "STOP", minutes_ago=10)
    session.add(Consent(customer_id=customer.id, kind="sms", granted=True, source="web", created_at=utcnow()))
    session.flush()
    assert sms_store.may_text(session, number=NUMBER)
    session.add(Consent(customer_id=customer.id, kind="marketing", granted=False, source="web"))
    session.flush()
    assert sms_store.may_text(session, number=NUMBER)  # marketing consent is another matter
    session.add(
        Consent(
            customer_id=customer.id, kind="sms", granted=False, source="import",
            created_at=utcnow() + timedelta(seconds=1),
        )  # fmt: skip
    )
    session.flush()
    assert not sms_store.may_text(session, number=NUMBER)


def test_record_keyword_stores_the_message_consent_and_answer_once(session: Session) -> None:
    customer = make_customer(session, phone=NUMBER)
    row = conversation(session, customer_id=customer.id)
    message = inbound(row, "START")
    first = sms_store.record_keyword(
        session, inbound=message, number=NUMBER, keyword="start", reply="Welcome back"
    )
    assert not first.duplicate and first.reply is not None and first.reply.text == "Welcome back"
    session.commit()  # each delivery is a unit of work of its own
    again = sms_store.record_keyword(
        session, inbound=message, number=NUMBER, keyword="start", reply="Welcome back"
    )
    assert again.duplicate and again.reply is None
    consents = session.scalars(select(Consent).where(Consent.customer_id == customer.id)).all()
    assert [(c.kind, c.granted, c.source) for c in consents] == [("sms", True, "sms")]


def test_help_changes_no_consent(session: Session) -> None:
    customer = make_customer(session, phone=NUMBER)
    row = conversation(session, customer_id=customer.id)
    sms_store.record_keyword(
        session, inbound=inbound(row, "HELP"), number=NUMBER, keyword="help", reply="Call us"
    )
    assert session.scalars(select(Consent).where(Consent.customer_id == customer.id)).all() == []


def test_customer_for_number_needs_exactly_one_match(session: Session) -> None:
    assert sms_store.customer_for_number(session, number=NUMBER) is None
    customer = make_customer(session, phone=NUMBER)
    assert sms_store.customer_for_number(session, number=NUMBER) == customer.external_id
    make_customer(session, phone=NUMBER)
    assert sms_store.customer_for_number(session, number=NUMBER) is None


def test_latest_options_come_from_the_bots_latest_turn(session: Session) -> None:
    row = conversation(session)

    def add(sender: Sender, text: str, buttons: list[tuple[str, str]] | None = None) -> None:
        data = {"buttons": [{"title": t, "payload": p} for t, p in buttons]} if buttons else None
        session.add(Message(conversation_id=row.id, channel="sms", sender=sender, text=text, data=data))
        session.flush()

    assert sms_store.latest_options(session, conversation_id=row.id) == ()
    add(Sender.bot, "Menu", [("A", "/a"), ("B", "/b")])
    add(Sender.bot, "Anything else?")
    assert [b.payload for b in sms_store.latest_options(session, conversation_id=row.id)] == ["/a", "/b"]
    add(Sender.customer, "hmm")  # the customer typing something first does not hide them
    assert [b.payload for b in sms_store.latest_options(session, conversation_id=row.id)] == ["/a", "/b"]
    add(Sender.bot, "Sure?", [("Yes", "/affirm")])
    assert [b.payload for b in sms_store.latest_options(session, conversation_id=row.id)] == ["/affirm"]
    add(Sender.bot, "Plain text turn")
    add(Sender.customer, "ok")
    add(Sender.bot, "A new turn without options")
    assert sms_store.latest_options(session, conversation_id=row.id) == ()
    add(Sender.bot, "Pick", [("X", "/x")])
    add(Sender.agent, "Hi, Sam here")
    assert sms_store.latest_options(session, conversation_id=row.id) == ()


def test_latest_options_skip_unseen_replies_and_include_the_gateways_own(session: Session) -> None:
    row = conversation(session)

    def add(sender: Sender, text: str, buttons: list[tuple[str, str]] | None = None, **data: object) -> None:
        payload: dict[str, object] = dict(data)
        if buttons:
            payload["buttons"] = [{"title": t, "payload": p} for t, p in buttons]
        session.add(
            Message(conversation_id=row.id, channel="sms", sender=sender, text=text, data=payload or None)
        )
        session.flush()

    add(Sender.bot, "Menu", [("A", "/a")])
    add(Sender.bot, "Late reply", [("Z", "/z")], suppressed=True)
    assert [b.payload for b in sms_store.latest_options(session, conversation_id=row.id)] == ["/a"]
    add(Sender.system, "We're closed. Shall we call you back?", [("Call me", "/callback")])
    assert [b.payload for b in sms_store.latest_options(session, conversation_id=row.id)] == ["/callback"]
    add(Sender.bot, "Old turn", [("B", "/b")])
    add(Sender.system, "A note without options")
    add(Sender.bot, "Newest, without options")
    # The note ends the turn, as it does for the payloads the conversation service accepts.
    assert sms_store.latest_options(session, conversation_id=row.id) == ()
