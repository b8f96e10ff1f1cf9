"""The human handoff on the website widget, end to end: the real stack (trained
model, action server, gateway, demo CRM) and a staff member in real headless
Chromium.

The customer asks for a person -> the handoff appears in the console -> staff
assign and reply -> the reply reaches the widget -> the customer answers and
the bot stays silent -> staff resolve -> the bot asks for a rating -> the
rating is stored with the staff member.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from actions.feedback import ASK_COMMENT, ASK_SCORE, THANKS
from bot.identity import hash_session_token
from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import (
    AuditEntry,
    Conversation,
    ConversationState,
    Customer,
    Feedback,
    Handoff,
    Message,
    Sender,
)
from tests.e2e.conftest import STAFF_TELEGRAM_CHAT_ID
from tests.e2e.staff_console import StaffAccount, StaffConsole
from tests.fakes.widget import WidgetCustomer
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.asyncio(loop_scope="function")

Frame = dict[str, Any]


async def frames_until(
    client: WidgetCustomer, predicate: Callable[[Frame], bool], timeout: float = 60
) -> list[Frame]:
    """Every frame up to and including the first that matches."""
    seen: list[Frame] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"nothing matching within {timeout}s; saw {seen}")
        frame = json.loads(await asyncio.wait_for(client.ws.recv(), remaining))
        if frame["type"] == "error":
            raise AssertionError(f"gateway error: {frame}")
        seen.append(frame)
        if predicate(frame):
            return seen


async def quiet(client: WidgetCustomer, seconds: float) -> list[Frame]:
    frames: list[Frame] = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(client.ws.recv(), seconds)))
    except TimeoutError:
        return frames


async def say(client: WidgetCustomer, text: str, client_id: str) -> None:
    await client.ws.send(json.dumps({"type": "message", "id": client_id, "text": text}))


async def press(client: WidgetCustomer, button: dict[str, str], client_id: str) -> None:
    await client.ws.send(
        json.dumps(
            {"type": "message", "id": client_id, "payload": button["payload"], "title": button["title"]}
        )
    )


def end_of_turn(frame: Frame) -> bool:
    return frame["type"] == "typing" and frame["on"] is False


def messages(frames: list[Frame], sender: str | None = None) -> list[Frame]:
    return [f for f in frames if f["type"] == "message" and (sender is None or f["from"] == sender)]


def conversation_of(crm_url: str, client: WidgetCustomer) -> str:
    assert client.session
    with session_scope(crm_url) as session:
        return session.scalars(
            select(Conversation.id).where(
                Conversation.channel == "web", Conversation.address == hash_session_token(client.session)
            )
        ).one()


async def test_a_widget_customer_is_helped_by_a_person_and_rates_them(
    stack: Stack,
    stack_env: dict[str, str],
    crm_url: str,
    staff_user: StaffAccount,
    staff_console: StaffConsole,
    fake_telegram: FakeTelegram,
) -> None:
    customer = await WidgetCustomer.connect(
        stack.gateway_port, customer_id="C005", secret=stack_env["WIDGET_IDENTITY_SECRET"]
    )
    try:
        conversation_id = conversation_of(crm_url, customer)
        alerts_before = len(fake_telegram.sent_texts(int(STAFF_TELEGRAM_CHAT_ID)))

        # The customer asks for a person and hears what happens next.
        await say(customer, "I'd like to speak to a real person please", "c1")
        turn = await frames_until(customer, end_of_turn)
        told = [m["text"] for m in messages(turn)]
        assert any("member of our team" in t for t in told), told
        notice = messages(turn, "system")[-1]["text"]
        assert "in the queue" in notice or "Our team is away right now" in notice, notice

        # Staff are alerted in their Telegram chat, with nothing personal in it.
        alert = await fake_telegram.wait_for(
            "sendMessage",
            lambda p: (
                str(p.get("chat_id")) == STAFF_TELEGRAM_CHAT_ID and conversation_id in p.get("text", "")
            ),
            timeout=20,
        )
        assert "New handoff" in alert["text"] and "verified customer" in alert["text"]
        assert "C005" not in alert["text"] and "@" not in alert["text"]
        assert len(fake_telegram.sent_texts(int(STAFF_TELEGRAM_CHAT_ID))) == alerts_before + 1

        # In Chromium: the handoff shows up in the live queue; the staff member opens it.
        await staff_console.sign_in(staff_user.email, staff_user.password)
        await staff_console.open_queue()
        await staff_console.wait_for_conversation(conversation_id)
        page = staff_console.page
        for expected in ("request human", "Verified", "#", "Segment"):
            assert expected in await page.locator("main").inner_text(), expected
        with session_scope(crm_url) as session:
            name = session.scalars(select(Customer.first_name).where(Customer.external_id == "C005")).one()
        assert name in await page.get_by_role("heading", level=1).inner_text()

        await staff_console.assign_to_me()
        joined = await frames_until(customer, lambda f: f["type"] == "message" and "has joined" in f["text"])
        assert messages(joined)[-1]["text"] == f"{staff_user.name} from our team has joined the chat."

        await staff_console.reply("Hi, I'm Sam from the shop. I'm sorry to hear that, let me help.")
        reply = await frames_until(customer, lambda f: f["type"] == "message" and f["from"] == "agent")
        assert (
            messages(reply, "agent")[-1]["text"]
            == "Hi, I'm Sam from the shop. I'm sorry to hear that, let me help."
        )

        # The customer answers: staff see it live, and the bot says nothing.
        await say(customer, "The lid of my teapot arrived chipped", "c2")
        await staff_console.wait_for_customer_message("The lid of my teapot arrived chipped")
        after = await quiet(customer, 3.0)
        assert not [f for f in messages(after) if f["from"] in ("bot", "system")], after

        # Staff resolve; the bot is back and asks how it went.
        await staff_console.resolve()
        back = await frames_until(customer, lambda f: f["type"] == "message" and f["text"] == ASK_SCORE)
        bot_texts = [m["text"] for m in messages(back, "bot")]
        assert f"Thanks for chatting with {staff_user.name.split()[0]}!" in bot_texts[0]
        score_buttons = messages(back, "bot")[-1]["buttons"]
        five = next(b for b in score_buttons if b["title"] == "5")
        await press(customer, five, "c3")
        await frames_until(customer, lambda f: f["type"] == "message" and f["text"] == ASK_COMMENT)
        await say(customer, "Sam sorted it out really quickly", "c4")
        await frames_until(customer, lambda f: f["type"] == "message" and f["text"] == THANKS)

        with session_scope(crm_url) as session:
            feedback = session.scalars(
                select(Feedback).where(Feedback.conversation_id == conversation_id)
            ).all()
            c005 = session.scalars(select(Customer).where(Customer.external_id == "C005")).one()
            assert [(f.score, f.staff_user_id, f.customer_id) for f in feedback] == [
                (5, staff_user.id, c005.id)
            ]
            assert feedback[0].comment == "Sam sorted it out really quickly"
            handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)).one()
            assert (handoff.assigned_to_id, handoff.resolved_by_id) == (staff_user.id, staff_user.id)
            assert session.get(Conversation, conversation_id).state == ConversationState.bot  # type: ignore[union-attr]
            transcript = session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            ).all()
            agent_lines = [(m.staff_user_id, m.text) for m in transcript if m.sender is Sender.agent]
            assert agent_lines == [
                (staff_user.id, "Hi, I'm Sam from the shop. I'm sorry to hear that, let me help.")
            ]
            # Between the assignment and the resolve the bot never spoke.
            joined_id = next(m.id for m in transcript if (m.data or {}).get("kind") == "staff_joined")
            resumed_from = next(m.id for m in transcript if m.sender is Sender.bot and m.id > joined_id)
            held = [m for m in transcript if joined_id < m.id < resumed_from]
            assert {m.sender for m in held} == {Sender.agent, Sender.customer}
            actions = session.scalars(
                select(AuditEntry.action)
                .where(
                    AuditEntry.actor == f"staff:{staff_user.id}",
                    AuditEntry.subject == f"conversation:{conversation_id}",
                )
                .order_by(AuditEntry.id)
            ).all()
            assert [a for a in actions if a != "conversation.view"] == [
                "conversation.assign",
                "conversation.reply",
                "conversation.resolve",
            ]
    finally:
        await customer.close()
