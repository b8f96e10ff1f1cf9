"""bot/channels/sms.py through the whole gateway: signed texts in (a real uvicorn, signatures
from twilio's own RequestValidator), texts out through the real twilio client to a local fake
of Twilio's REST API, a stand-in Rasa. Its formatting and keywords alone: test_sms.py; staff
replies: test_sms_send.py."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.logs import JsonFormatter
from crm.models import AuditEntry, Consent, Conversation, ConversationState, Customer, Message, Sender
from crm.services.verification_limits import client_fingerprint
from crm.shop import load_shop_profile
from tests.bot.sms_support import (
    KNOWN,
    STRANGER,
    assert_nothing_processed,
    conversations_at,
    deliver,
    settle,
    sms_settings,
)
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa, RasaCall
from tests.fakes.rigs import messages_of
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SHOP_NUMBER, FakeTwilioApi, Phone, message_sid

pytestmark = pytest.mark.asyncio

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest_asyncio.fixture
async def gateway(twilio: FakeTwilioApi, start_gateway: Callable[..., Any]) -> Gateway:
    # Twilio first: the gateway stops (and drains its texts) before the fake does.
    return await start_gateway(**sms_settings(twilio))


def only_conversation(db: sessionmaker[Session], number: str) -> Conversation:
    found = conversations_at(db, number)
    assert len(found) == 1, found
    return found[0]


async def texts_to(twilio: FakeTwilioApi, number: str, count: int) -> list[str]:
    return await twilio.texts(number, count, timeout=5)


def buttons_reply(text: str, buttons: list[tuple[str, str]]) -> Callable[[RasaCall], list[dict[str, Any]]]:
    def reply(call: RasaCall) -> list[dict[str, Any]]:
        if call.message.startswith("/"):
            return [{"text": f"you picked {call.message}"}]
        return [{"text": text, "buttons": [{"title": t, "payload": p} for t, p in buttons]}]

    return reply


# -- the happy path ------------------------------------------------------------------------------


async def test_a_signed_text_is_answered_with_empty_twiml_and_the_reply_goes_out_by_rest(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    response = await deliver(gateway, Phone(STRANGER), "hello there")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == EMPTY_TWIML

    assert await texts_to(twilio, STRANGER, 1) == ["echo: hello there"]
    sent = twilio.sent_to(STRANGER)[0]
    # The real twilio client, with the shop's account and number.
    assert (sent.path_account, sent.auth_user, sent.auth_ok) == (ACCOUNT_SID, ACCOUNT_SID, True)
    assert sent.from_ == SHOP_NUMBER

    conversation = only_conversation(db, STRANGER)
    # The number is where replies go; the conversation id stays opaque.
    assert STRANGER not in conversation.id and conversation.customer_id is None
    assert fake_rasa.calls[0].sender == conversation.id
    assert fake_rasa.calls[0].metadata == {
        "channel": "sms", "customer_id": None, "locale": "en", "client": client_fingerprint(f"sms:{STRANGER}")
    }
    assert STRANGER not in json.dumps(fake_rasa.calls[0].metadata)
    stored = messages_of(db, conversation.id)
    assert [(m.sender, m.text) for m in stored] == [
        (Sender.customer, "hello there"),
        (Sender.bot, "echo: hello there"),
    ]
    assert stored[0].channel_message_id.startswith("SM")
    assert await gateway.metric("gateway_messages_total", {"channel": "sms", "direction": "out"}) == 1


async def test_the_webhook_answers_before_a_slow_turn_and_the_reply_follows(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    fake_rasa.delay = 1.5
    started = time.monotonic()
    response = await deliver(gateway, Phone(STRANGER), "where is my parcel")
    assert response.status_code == 200 and time.monotonic() - started < 1.0
    assert twilio.sent_to(STRANGER) == []
    assert await texts_to(twilio, STRANGER, 1) == ["echo: where is my parcel"]


async def test_one_conversation_per_number_across_texts(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    for text in ("first", "second"):
        await deliver(gateway, phone, text)
    assert await texts_to(twilio, STRANGER, 2) == ["echo: first", "echo: second"]
    conversation = only_conversation(db, STRANGER)
    assert {c.sender for c in fake_rasa.calls} == {conversation.id}


async def test_texts_arriving_together_from_a_new_number_share_one_conversation_in_order(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    await asyncio.gather(*(deliver(gateway, phone, f"part {n}") for n in range(4)))
    await texts_to(twilio, STRANGER, 4)
    conversation = only_conversation(db, STRANGER)
    customer_texts = [m.text for m in messages_of(db, conversation.id) if m.sender == Sender.customer]
    assert sorted(customer_texts) == [f"part {n}" for n in range(4)]
    assert fake_rasa.max_active_per_sender == 1


# -- duplicates ----------------------------------------------------------------------------------


async def test_a_redelivered_message_sid_is_stored_answered_and_texted_once(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    sid = message_sid()
    first = await deliver(gateway, phone, "hello", sid=sid)
    await texts_to(twilio, STRANGER, 1)
    again = await asyncio.gather(*(deliver(gateway, phone, "hello", sid=sid) for _ in range(3)))
    await settle(fake_rasa)
    assert first.status_code == 200 and all(r.status_code == 200 and r.text == EMPTY_TWIML for r in again)
    conversation = only_conversation(db, STRANGER)
    assert [m.text for m in messages_of(db, conversation.id)] == ["hello", "echo: hello"]
    assert len(fake_rasa.calls) == 1 and len(twilio.sent_to(STRANGER)) == 1
    assert await gateway.metric("gateway_duplicates_dropped_total", {"channel": "sms"}) == 3


async def test_a_redelivered_stop_is_recorded_once(
    gateway: Gateway, twilio: FakeTwilioApi, db: sessionmaker[Session], customer: Customer
) -> None:
    phone = Phone(KNOWN)
    sid = message_sid()
    for _ in range(2):
        assert (await deliver(gateway, phone, "STOP", sid=sid)).status_code == 200
    with db() as session:
        assert len(session.scalars(select(Consent).where(Consent.kind == "sms")).all()) == 1


# -- numbered options ----------------------------------------------------------------------------


async def test_buttons_become_numbered_options_and_a_number_picks_one(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    fake_rasa.reply = buttons_reply("Is it order 1043?", [("Yes", "/affirm"), ("No", "/deny")])
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "where is my order")
    assert await texts_to(twilio, STRANGER, 1) == ["Is it order 1043?\n\nReply 1 for Yes, 2 for No."]

    await deliver(gateway, phone, " 2 ")
    assert (await texts_to(twilio, STRANGER, 2))[1] == "you picked /deny"
    assert fake_rasa.calls[-1].message == "/deny"
    conversation = only_conversation(db, STRANGER)
    pick = [m for m in messages_of(db, conversation.id) if m.sender == Sender.customer][-1]
    # The transcript shows what they chose, and keeps the payload.
    assert pick.text == "No" and pick.data == {"payload": "/deny", "title": "No"}


async def test_a_number_out_of_range_or_without_options_is_plain_text(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "3")  # nothing offered yet
    await texts_to(twilio, STRANGER, 1)
    fake_rasa.reply = buttons_reply("Pick one", [("Yes", "/affirm"), ("No", "/deny")])
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, STRANGER, 2)
    await deliver(gateway, phone, "7")
    await texts_to(twilio, STRANGER, 3)
    assert [c.message for c in fake_rasa.calls] == ["3", "hi", "7"]


async def test_a_number_after_staff_have_written_goes_to_them_as_text(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    fake_rasa.reply = buttons_reply("Pick one", [("Yes", "/affirm"), ("No", "/deny")])
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, STRANGER, 1)
    conversation = only_conversation(db, STRANGER)
    with db() as session:
        row = session.get(Conversation, conversation.id)
        assert row is not None
        row.state = ConversationState.assigned
        session.add(Message(conversation_id=row.id, channel="sms", sender=Sender.agent, text="Order 1 or 2?"))
        session.commit()
    await deliver(gateway, phone, "1")
    await settle(fake_rasa)
    last = messages_of(db, conversation.id)
    customer_last = [m for m in last if m.sender == Sender.customer][-1]
    assert customer_last.text == "1" and customer_last.data is None
    assert len(fake_rasa.calls) == 1  # held: the bot stays silent


async def test_the_rating_question_reads_as_a_range_and_five_picks_five(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    scores = [(str(n), f'/inform{{"rating":"{n}"}}') for n in range(1, 6)]
    fake_rasa.reply = buttons_reply("How did we do today?", scores)
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "thanks")
    assert await texts_to(twilio, STRANGER, 1) == ["How did we do today?\n\nReply with a number from 1 to 5."]
    await deliver(gateway, phone, "5")
    await texts_to(twilio, STRANGER, 2)
    assert fake_rasa.calls[-1].message == '/inform{"rating":"5"}'


# -- long replies --------------------------------------------------------------------------------


async def test_a_long_reply_arrives_as_numbered_parts_in_order(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    long = " ".join(f"Line {n} of our returns policy explains one more detail." for n in range(70))
    fake_rasa.reply = lambda call: [{"text": long}]
    await deliver(gateway, Phone(STRANGER), "returns?")
    # Three sends one after the other: on a busy machine the last may still be on its way after settle.
    await texts_to(twilio, STRANGER, 3)
    await settle(fake_rasa)
    parts = twilio.bodies_to(STRANGER)
    assert len(parts) == 3
    assert [p[:6] for p in parts] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(len(p) <= 1600 for p in parts)
    assert " ".join(p[6:] for p in parts) == long


# -- STOP, START, HELP ---------------------------------------------------------------------------


async def test_stop_is_recorded_as_consent_and_silences_the_number_until_start(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    phone = Phone(KNOWN)
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, KNOWN, 1)

    response = await deliver(gateway, phone, "Stop")
    assert response.text == EMPTY_TWIML  # Twilio confirms a STOP itself
    await deliver(gateway, phone, "are you still there?")
    await settle(fake_rasa)
    # Kept for the record (and the assistant saw it), but nothing was texted.
    assert len(twilio.sent_to(KNOWN)) == 1
    assert [c.message for c in fake_rasa.calls] == ["hi", "are you still there?"]
    assert await gateway.metric("gateway_sms_not_sent_total", {"reason": "opted_out"}) == 1

    await deliver(gateway, phone, "START")
    texts = await texts_to(twilio, KNOWN, 2)
    assert "subscribed" in texts[1] and load_shop_profile().name in texts[1]
    await deliver(gateway, phone, "hello again")
    assert (await texts_to(twilio, KNOWN, 3))[2] == "echo: hello again"

    with db() as session:
        consents = session.scalars(
            select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.id)
        )
        assert [(c.kind, c.granted, c.source) for c in consents] == [
            ("sms", False, "sms"),
            ("sms", True, "sms"),
        ]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "consent.sms")).all()
        assert [a.detail["granted"] for a in audit] == [False, True]
        assert all(a.actor == "customer:C001" for a in audit)
    # The keywords never reached the assistant.
    assert "Stop" not in [c.message for c in fake_rasa.calls]
    assert "START" not in [c.message for c in fake_rasa.calls]


async def test_an_unknown_number_that_stops_gets_nothing_more_either(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "UNSUBSCRIBE")
    await deliver(gateway, phone, "help")  # HELP is recorded, but even its answer waits for START
    await deliver(gateway, phone, "hello?")
    await settle(fake_rasa)
    assert twilio.requests == []
    with db() as session:
        assert session.scalars(select(Consent)).all() == []  # no customer to hang a consent on
    # YES from a number that opted out means START.
    await deliver(gateway, phone, "yes")
    assert "subscribed" in (await texts_to(twilio, STRANGER, 1))[0]
    assert fake_rasa.calls and "yes" not in [c.message for c in fake_rasa.calls]


async def test_yes_is_an_ordinary_answer_from_a_number_that_never_stopped(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    await deliver(gateway, Phone(STRANGER), "yes")
    assert await texts_to(twilio, STRANGER, 1) == ["echo: yes"]


async def test_help_answers_with_the_shops_contact_details_without_the_assistant(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    contact = load_shop_profile().contact
    await deliver(gateway, Phone(STRANGER), "HELP")
    await deliver(gateway, Phone(STRANGER), "info")
    for text in await texts_to(twilio, STRANGER, 2):
        assert contact.email in text and contact.phone in text and "STOP" in text
    assert fake_rasa.calls == []
    conversation = only_conversation(db, STRANGER)
    stored = messages_of(db, conversation.id)
    assert [m.sender for m in stored][:2] == [Sender.customer, Sender.system]
    assert stored[0].text == "HELP"
    assert stored[1].data == {"kind": "sms_keyword", "keyword": "help"}


async def test_a_consent_withdrawn_elsewhere_is_honoured(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    with db() as session:
        session.add(Consent(customer_id=customer.id, kind="sms", granted=False, source="import"))
        session.commit()
    await deliver(gateway, Phone(KNOWN), "hi")
    await settle(fake_rasa)
    assert len(fake_rasa.calls) == 1 and twilio.requests == []


# -- who is texting ------------------------------------------------------------------------------


async def test_a_known_number_is_a_verified_customer(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    fake_rasa.reply = lambda call: [
        {"text": "Hi Ada!" if call.metadata["customer_id"] == "C001" else "Hi there!"}
    ]
    # Twilio sends E.164; a national spelling of the same number matches too.
    await deliver(gateway, Phone(KNOWN), "hi")
    assert await texts_to(twilio, KNOWN, 1) == ["Hi Ada!"]
    assert {k: v for k, v in fake_rasa.calls[0].metadata.items() if k != "client"} == {
        "channel": "sms", "customer_id": "C001", "locale": "en"
    }
    assert only_conversation(db, KNOWN).customer_id == customer.id


async def test_an_unknown_number_stays_anonymous(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    await deliver(gateway, Phone(STRANGER), "what's the status of order 1043?")
    await texts_to(twilio, STRANGER, 1)
    assert fake_rasa.calls[0].metadata["customer_id"] is None
    assert only_conversation(db, STRANGER).customer_id is None


async def test_a_number_two_customers_share_verifies_neither(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    with db() as session:
        session.add(Customer(external_id="C002", first_name="Charles", email="cb@example.com", phone=KNOWN))
        session.commit()
    await deliver(gateway, Phone(KNOWN), "hi")
    await texts_to(twilio, KNOWN, 1)
    assert fake_rasa.calls[0].metadata["customer_id"] is None


async def test_a_customer_added_later_is_verified_in_the_same_conversation(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, STRANGER, 1)
    with db() as session:
        session.add(
            Customer(external_id="C777", first_name="Grace", email="grace@example.com", phone=STRANGER)
        )
        session.commit()
    await deliver(gateway, phone, "me again")
    await texts_to(twilio, STRANGER, 2)
    conversation = only_conversation(db, STRANGER)
    assert [c.metadata["customer_id"] for c in fake_rasa.calls] == [None, "C777"]
    assert {c.sender for c in fake_rasa.calls} == {conversation.id}
    with db() as session:
        assert session.get(Conversation, conversation.id).customer_id is not None  # type: ignore[union-attr]


async def test_a_number_that_changed_hands_starts_a_new_anonymous_conversation(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    db: sessionmaker[Session],
    customer: Customer,
) -> None:
    phone = Phone(KNOWN)
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, KNOWN, 1)
    with db() as session:
        row = session.get(Customer, customer.id)
        assert row is not None
        row.phone = "+447700900777"  # Ada has a new number; someone else has her old one
        session.commit()
    await deliver(gateway, phone, "whose orders are these?")
    await texts_to(twilio, KNOWN, 2)
    first, second = conversations_at(db, KNOWN)
    assert first.customer_id == customer.id and second.customer_id is None
    assert fake_rasa.calls[1].sender == second.id and fake_rasa.calls[1].metadata["customer_id"] is None


# -- held by staff -------------------------------------------------------------------------------


async def test_while_staff_hold_the_conversation_the_bot_stays_silent(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "hi")
    await texts_to(twilio, STRANGER, 1)
    conversation = only_conversation(db, STRANGER)
    with db() as session:
        row = session.get(Conversation, conversation.id)
        assert row is not None
        row.state = ConversationState.queued
        session.commit()
    await deliver(gateway, phone, "I need a person")
    await deliver(gateway, phone, "hello?")
    await settle(fake_rasa)
    assert len(fake_rasa.calls) == 1
    texts = twilio.bodies_to(STRANGER)
    # One notice that a person will answer, not a reply per message.
    assert len(texts) == 2 and "team" in texts[1]


# -- when Twilio or the message is not as expected -----------------------------------------------


async def test_a_text_twilio_refuses_is_kept_and_counted_and_the_next_one_goes_out(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    twilio.fail_next(status=500, code=20500, message="Internal Server Error")
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "first")
    await settle(fake_rasa)
    await gateway.metric_reaches("gateway_sms_not_sent_total", {"reason": "refused"}, 1)
    assert twilio.sent_to(STRANGER) == [] and len(twilio.requests) == 1
    assert await gateway.metric("gateway_sms_not_sent_total", {"reason": "refused"}) == 1
    conversation = only_conversation(db, STRANGER)
    assert "echo: first" in [m.text for m in messages_of(db, conversation.id)]
    await deliver(gateway, phone, "second")
    assert await texts_to(twilio, STRANGER, 1) == ["echo: second"]


async def test_a_picture_without_words_gets_asked_for_words(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi
) -> None:
    await deliver(gateway, Phone(STRANGER), "", NumMedia="1", MediaUrl0="https://api.twilio.com/m/1")
    texts = await texts_to(twilio, STRANGER, 1)
    assert "words" in texts[0]
    assert fake_rasa.calls == []


async def test_a_signed_form_without_a_usable_sender_is_ignored_politely(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    response = await deliver(gateway, Phone("SHOPNEWS"), "hi")  # an alphanumeric sender id
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    await assert_nothing_processed(db, fake_rasa, twilio)


# -- privacy -------------------------------------------------------------------------------------


async def test_no_number_or_message_text_in_info_logs(
    gateway: Gateway,
    fake_rasa: FakeRasa,
    twilio: FakeTwilioApi,
    customer: Customer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_rasa.reply = lambda call: [{"text": "Hello Ada, your parcel left Bristol."}]
    phone = Phone(KNOWN)
    await deliver(gateway, phone, "my secret words about a parcel")
    await texts_to(twilio, KNOWN, 1)
    await deliver(gateway, phone, "STOP")
    await deliver(gateway, phone, "START")
    await deliver(gateway, phone, "HELP")
    await texts_to(twilio, KNOWN, 3)
    await deliver(gateway, phone, "forged", signature="AAAA")
    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.name == "bot.channels.sms" for r in info)
    formatter = JsonFormatter()
    for record in info:
        raw = record.getMessage() + json.dumps(vars(record), default=str) + formatter.format(record)
        for needle in (KNOWN, KNOWN[1:], "secret words", "Hello Ada", SHOP_NUMBER, ACCOUNT_SID, AUTH_TOKEN):
            assert needle not in raw, (needle, record.name, record.getMessage())
