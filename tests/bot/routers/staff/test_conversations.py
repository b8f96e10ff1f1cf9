"""/staff/conversations over HTTP and the live socket, with the whole gateway on a real
port: one conversation with everything the bot knew, replies reaching the customer's
widget in real time, assign and resolve, canned replies."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.client import connect

from crm.clock import utcnow
from crm.models import (
    AuditEntry,
    Consent,
    Conversation,
    ConversationState,
    Customer,
    Feedback,
    Handoff,
    Message,
    Order,
    OrderStatus,
    Sender,
)
from tests.bot.staff_support import (
    HANDOFF_TEXT,
    PERSON,
    RATING_QUESTION,
    HandoffRasa,
    conversation_ids,
    page_text,
)
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


def seed_customer(db: sessionmaker[Session]) -> int:
    with db() as session:
        customer = Customer(
            external_id="C001",
            first_name="Ada",
            last_name="Lovelace",
            email="ada.lovelace@example.com",
            phone="+447700900123",
            marketing_opt_in=True,
        )
        session.add(customer)
        session.flush()
        session.add(
            Order(
                number="1043",
                customer_id=customer.id,
                placed_at=utcnow() - timedelta(days=4),
                status=OrderStatus.shipped,
                total=Decimal("42.50"),
                currency="GBP",
                carrier="Royal Mail",
                tracking_number="DW414134518GB",
            )
        )
        session.add(
            Feedback(customer_id=customer.id, conversation_id="earlier", score=4, comment="Quick and kind")
        )
        session.add(Consent(customer_id=customer.id, kind="marketing", granted=True, source="web"))
        session.commit()
        return customer.id


async def test_the_conversation_view_has_the_transcript_the_packet_and_the_crm_card(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    seed_customer(db)
    async with gateway.connect(customer_id="C001", sign=True) as widget:
        await widget.recv_until(lambda f: f["type"] == "history")
        await widget.say("c1", "hello there")
        await widget.recv_until(lambda f: f["type"] == "typing" and f["on"] is False)
        await widget.say("c2", PERSON)
        await widget.recv_until(lambda f: f["type"] == "typing" and f["on"] is False)
    (conversation_id,) = conversation_ids(db)
    client, sam = await staff(db)
    page = await client.get(f"/staff/conversations/{conversation_id}")
    text = page_text(page)
    assert page.status_code == 200
    # Transcript across bot and gateway turns, oldest first.
    lines = re.findall(r'class="msg (\w+)[^"]*" data-message-id', page.text)
    assert lines == ["customer", "bot", "customer", "bot", "bot", "system"]
    assert (
        "hello there" in text and HANDOFF_TEXT in text and "The assistant handed over (request_human)" in text
    )
    # The packet: why, what they wanted, what the bot filled in.
    assert "<dt>Why</dt><dd>request human</dd>" in page.text
    assert "<dt>order number</dt><dd>1043</dd>" in page.text  # a slot the bot had filled
    assert (
        "<strong>Not verified</strong> when handed over" not in page.text
    )  # verified by the shop's signature
    # The CRM card: who, orders, past feedback, segment, consent.
    for expected in (
        "Ada Lovelace",
        "(C001)",
        "ada.lovelace@example.com",
        "#1043",
        "shipped",
        "Royal Mail",
        "Quick and kind",
        "Opted in",
        "marketing: given via web",
    ):
        assert expected in text, expected
    assert re.search(r"<dt>Segment</dt><dd>(new|returning|vip)</dd>", page.text)
    # Opening it is audited: personal data was shown.
    with db() as session:
        viewed = session.scalars(select(AuditEntry).where(AuditEntry.action == "conversation.view")).one()
    assert (viewed.actor, viewed.subject) == (f"staff:{sam}", f"conversation:{conversation_id}")


async def test_an_unverified_customer_shows_no_card_and_a_warning(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    async with gateway.connect() as widget:
        await widget.recv_until(lambda f: f["type"] == "history")
        await widget.say("c1", PERSON)
        await widget.recv_until(lambda f: f["type"] == "typing" and f["on"] is False)
    (conversation_id,) = conversation_ids(db)
    client, _ = await staff(db)
    text = page_text(await client.get(f"/staff/conversations/{conversation_id}"))
    assert "Not verified." in text and "don't share order or personal details" in text
    assert (await client.get("/staff/conversations/does-not-exist")).status_code == 404


async def test_assign_reply_resolve_reach_the_widget_in_real_time_and_the_bot_asks_for_a_rating(
    gateway: Gateway,
    staff: Callable[..., Any],
    db: sessionmaker[Session],
    rasa: HandoffRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client, sam = await staff(db, name="Sam Carter")
    async with gateway.connect() as widget:
        await widget.recv_until(lambda f: f["type"] == "history")
        await widget.say("c1", PERSON)
        await widget.recv_until(lambda f: f["type"] == "typing" and f["on"] is False)
        (conversation_id,) = conversation_ids(db)
        base = f"/staff/conversations/{conversation_id}"

        ws_url = gateway.ws_url.replace("/ws/chat", "/staff/ws") + f"?conversation={conversation_id}"
        async with connect(ws_url, additional_headers={"Cookie": client.cookie_header()}) as console:
            assigned = await client.post(base + "/assign")
            assert assigned.status_code == 200
            assert assigned.json()["controls"]["status"] == "Assigned to you"
            joined, _ = await widget.recv_until(lambda f: f["type"] == "message" and "joined" in f["text"])
            assert (
                joined["from"] == "system"
                and joined["text"] == "Sam Carter from our team has joined the chat."
            )

            replied = await client.post(base + "/reply", {"text": "Hi! I'm Sam. Let me look at order 1043."})
            assert replied.status_code == 200
            message, _ = await widget.recv_until(lambda f: f["type"] == "message" and f["from"] == "agent")
            assert (
                message["text"] == "Hi! I'm Sam. Let me look at order 1043."
                and message["id"] == replied.json()["message_id"]
            )

            await widget.say("c2", "thanks, that's great")
            # The bot stays silent; the console sees the customer's words live.
            frame = None
            while (
                frame is None
                or frame.get("from") != "customer"
                or frame.get("text") != "thanks, that's great"
            ):
                frame = json.loads(await asyncio.wait_for(console.recv(), 5))
            assert [c.message for c in rasa.fake.calls] == [PERSON]

            resolved = await client.post(base + "/resolve")
            assert resolved.status_code == 200
            question, _ = await widget.recv_until(
                lambda f: f["type"] == "message" and f["text"] == RATING_QUESTION
            )
            assert [b["title"] for b in question["buttons"]] == ["1", "2", "3", "4", "5"]
            states = []
            while "bot" not in states:
                frame = json.loads(await asyncio.wait_for(console.recv(), 5))
                if frame["type"] == "state":
                    states.append(frame["controls"]["state"])
            assert rasa.triggers[0].entities == {"staff_user_id": str(sam)}

    with db() as session:
        agent_messages = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id, Message.sender == Sender.agent)
        ).all()
        assert [(m.staff_user_id, m.text) for m in agent_messages] == [
            (sam, "Hi! I'm Sam. Let me look at order 1043.")
        ]
        packet = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)).one()
        assert packet.resolved_by_id == sam
        entries = session.scalars(select(AuditEntry).where(AuditEntry.actor == f"staff:{sam}")).all()
    actions = [e.action for e in entries if e.subject == f"conversation:{conversation_id}"]
    assert actions == ["conversation.assign", "conversation.reply", "conversation.resolve"]
    # Who did what, never the words.
    assert not any("1043" in json.dumps(e.detail) or "Sam." in json.dumps(e.detail) for e in entries)
    info = [
        r.getMessage() + json.dumps(r.__dict__, default=str)
        for r in caplog.records
        if r.levelno <= logging.INFO
    ]
    assert not any("order 1043" in line or "that's great" in line for line in info)


async def test_plain_forms_work_without_javascript(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    with db() as session:
        session.add(Conversation(id="c-queued", channel="web", address="x", state=ConversationState.queued))
        session.commit()
    client, _ = await staff(db)
    response = await client.http.post(
        "/staff/conversations/c-queued/assign", data={"csrf": client.csrf or ""}
    )
    assert response.status_code == 303 and response.headers["location"] == "/staff/conversations/c-queued"
    page = await client.get("/staff/conversations/c-queued")
    assert 'data-state="assigned"' in page.text and "Assigned to you" in page.text
    empty = await client.http.post(
        "/staff/conversations/c-queued/reply", data={"csrf": client.csrf or "", "text": "  "}
    )
    assert empty.status_code == 400 and "Type a reply first." in empty.text


async def test_an_agent_sees_a_clear_answer_when_a_colleague_already_has_it(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    with db() as session:
        session.add(Conversation(id="c-queued", channel="web", address="x", state=ConversationState.queued))
        session.commit()
    sam, _ = await staff(db, name="Sam Carter")
    alex, _ = await staff(db, name="Alex Reid")
    assert (await sam.post("/staff/conversations/c-queued/assign")).status_code == 200
    taken = await alex.post("/staff/conversations/c-queued/assign")
    assert (
        taken.status_code == 409
        and taken.json()["error"] == "Someone else has already taken this conversation."
    )
    reply = await alex.post("/staff/conversations/c-queued/reply", {"text": "hello"})
    assert (
        reply.status_code == 403 and reply.json()["error"] == "This conversation is assigned to someone else."
    )
    page = page_text(await alex.get("/staff/conversations/c-queued"))
    assert "Assigned to Sam Carter" in page


async def test_canned_replies_come_from_the_shop_file(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    with db() as session:
        session.add(Conversation(id="c-queued", channel="web", address="x", state=ConversationState.queued))
        session.commit()
    client, _ = await staff(db)
    page = page_text(await client.get("/staff/conversations/c-queued"))
    refund = "I've started your refund. It usually reaches your account within 5 working days."
    assert f'<option value="{refund}">Refund started</option>' in page
