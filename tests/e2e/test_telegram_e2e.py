"""Telegram end to end on the real stack (trained model, action server, gateway,
demo CRM): the gateway's python-telegram-bot client talks to the local fake Bot
API, Telegram's webhook calls carry the secret-token header, and the staff side
is headless Chromium in the staff console."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import (
    ChannelIdentity,
    Conversation,
    ConversationState,
    Customer,
    Feedback,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
)
from tests.e2e.conftest import TELEGRAM_WEBHOOK_SECRET
from tests.e2e.staff_console import StaffAccount, StaffConsole
from tests.fakes.telegram import FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio(loop_scope="function")

WEBHOOK = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How long a turn's messages keep coming: a bot turn may be several messages.
QUIET_SECONDS = 2.0
# Telegram user ids for these tests; the demo CRM's linked ones are 5550001-5550003.
_user_ids = itertools.count(880_000_001)


@dataclass
class TelegramCustomer:
    """A person in a private chat with the shop's bot: updates go to the gateway's webhook,
    and what the bot sends shows up at the fake Bot API."""

    stack: Stack
    fake: FakeTelegram
    user: TelegramUser
    seen: int = field(init=False, default=0)

    async def post(
        self, update: dict[str, Any], *, secret: str | None = TELEGRAM_WEBHOOK_SECRET
    ) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(self.stack.gateway_url + WEBHOOK, json=update, headers=headers)

    async def send(self, update: dict[str, Any]) -> None:
        response = await self.post(update)
        assert response.status_code == 200, response.text

    def sent(self) -> list[dict[str, Any]]:
        return self.fake.of("sendMessage", self.user.chat_id)

    async def messages(self, timeout: float = 90) -> list[dict[str, Any]]:
        """The messages that arrive next (at least one), once they stop coming."""
        await wait(lambda: len(self.sent()) > self.seen, timeout)
        count = len(self.sent())
        while True:
            await asyncio.sleep(QUIET_SECONDS)
            now = len(self.sent())
            if now == count:
                break
            count = now
        new = self.sent()[self.seen :]
        self.seen += len(new)
        return new

    async def say(self, text: str, timeout: float = 90) -> list[dict[str, Any]]:
        await self.send(self.user.text(text))
        return await self.messages(timeout)

    async def tap(self, messages: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
        """Tap the inline button titled `title` under one of `messages`; returns what follows."""
        for message in messages:
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == title:
                        before = len(self.fake.of("answerCallbackQuery"))
                        await self.send(self.user.press(button["callback_data"]))
                        await wait(lambda n=before: len(self.fake.of("answerCallbackQuery")) > n, 30)
                        return await self.messages()
        raise AssertionError(f"no button {title!r} in {[m.get('reply_markup') for m in messages]}")

    async def nothing_more(self, seconds: float) -> list[dict[str, Any]]:
        await asyncio.sleep(seconds)
        return self.sent()[self.seen :]


async def wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def customer_row(crm_url: str, external_id: str) -> Customer:
    with session_scope(crm_url) as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).one()
        session.expunge(customer)
        return customer


def telegram_conversation(crm_url: str, chat_id: int) -> Conversation:
    with session_scope(crm_url) as session:
        conversation = session.scalars(
            select(Conversation)
            .where(Conversation.channel == "telegram", Conversation.address == str(chat_id))
            .order_by(Conversation.created_at.desc())
        ).first()
        assert conversation is not None
        session.expunge(conversation)
        return conversation


def transcript(crm_url: str, conversation_id: str) -> list[Message]:
    with session_scope(crm_url) as session:
        messages = list(
            session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        )
        for message in messages:
            session.expunge(message)
        return messages


@pytest.fixture
def chat(stack: Stack, fake_telegram: FakeTelegram) -> Callable[..., TelegramCustomer]:
    def open_chat(user_id: int | None = None, first_name: str = "Ada") -> TelegramCustomer:
        user = TelegramUser(user_id=user_id or next(_user_ids), first_name=first_name)
        return TelegramCustomer(stack, fake_telegram, user)

    return open_chat


async def test_a_forged_webhook_is_refused_and_nothing_is_stored(
    chat: Callable[..., TelegramCustomer], crm_url: str
) -> None:
    customer = chat()
    for secret in (None, "not-the-secret"):
        assert (await customer.post(customer.user.text("hello"), secret=secret)).status_code == 403
    assert await customer.nothing_more(3) == []
    with session_scope(crm_url) as session:
        assert (
            session.scalars(
                select(Conversation).where(Conversation.address == str(customer.user.chat_id))
            ).first()
            is None
        )


async def test_a_linked_telegram_account_is_greeted_by_name(
    chat: Callable[..., TelegramCustomer], fake_telegram: FakeTelegram
) -> None:
    customer = chat(user_id=5550002, first_name="Aoife")  # linked to C010 in the demo CRM
    reply = await customer.say("hi")
    assert "Aoife" in text_of(reply)
    assert fake_telegram.of("sendChatAction", customer.user.chat_id)  # "typing…" while the bot worked


async def test_an_anonymous_chat_learns_nothing_about_an_order(chat: Callable[..., TelegramCustomer]) -> None:
    customer = chat()
    first = text_of(await customer.say("where is my order?"))
    assert "order number" in first.lower()
    second = text_of(await customer.say("it's #1043"))
    assert "mail" in second.lower()
    assert "Royal Mail" not in second


async def test_a_website_customer_links_telegram_with_a_deep_link(
    chat: Callable[..., TelegramCustomer], stack: Stack, stack_env: dict[str, str], crm_url: str
) -> None:
    expires = int(time.time()) + 600
    signature = hmac.new(
        stack_env["WIDGET_IDENTITY_SECRET"].encode(), f"C012:{expires}".encode(), hashlib.sha256
    ).hexdigest()
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            stack.gateway_url + "/telegram/link",
            params={"customer_id": "C012", "expires": str(expires), "signature": signature},
        )
    assert response.status_code == 200, response.text
    (token,) = parse_qs(urlparse(response.json()["url"]).query)["start"]
    customer = chat(first_name="Rhys")
    linked = text_of(await customer.say(f"/start {token}"))
    assert "linked" in linked.lower()
    with session_scope(crm_url) as session:
        identity = session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == "telegram",
                ChannelIdentity.external_user_id == str(customer.user.user_id),
            )
        ).one()
        assert identity.customer_id == customer_row(crm_url, "C012").id
    assert "Rhys" in text_of(await customer.say("hello"))


async def test_a_person_takes_over_on_telegram_and_the_rating_is_stored_with_them(
    chat: Callable[..., TelegramCustomer],
    crm_url: str,
    staff_console: StaffConsole,
    staff_user: StaffAccount,
) -> None:
    marta = customer_row(crm_url, "C011")
    assert marta.phone
    customer = chat(first_name="Marta")

    # She opens the chat and proves who she is with Telegram's contact button.
    welcome = await customer.say("/start")
    keyboard = welcome[-1]["reply_markup"]["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    await customer.send(customer.user.own_contact(marta.phone.lstrip("+")))
    assert "your account" in text_of(await customer.messages()).lower()
    assert "Marta" in text_of(await customer.say("hi"))

    # She asks for a person: the conversation waits for staff.
    await customer.say("can I talk to a human please")
    conversation = telegram_conversation(crm_url, customer.user.chat_id)
    with session_scope(crm_url) as session:
        assert session.get(Conversation, conversation.id).state == ConversationState.queued  # type: ignore[union-attr]
        handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation.id)).one()
        assert handoff.verified and handoff.customer_id == marta.id

    # A member of staff, in Chromium, takes it and answers: the message reaches her chat.
    await staff_console.sign_in(staff_user.email, staff_user.password)
    await staff_console.open_queue()
    await staff_console.wait_for_conversation(conversation.id)
    await staff_console.assign_to_me()
    staff_words = "Hi Marta, this is the shop team. How can I help?"
    await staff_console.reply(staff_words)
    arrived = [m["text"] for m in await customer.messages()]
    assert arrived[-1] == staff_words  # after, at most, a note that a person has joined
    agent_lines = [m for m in transcript(crm_url, conversation.id) if m.sender == Sender.agent]
    assert [(m.text, m.staff_user_id) for m in agent_lines] == [(staff_words, staff_user.id)]

    # She answers; the bot stays silent while a person holds the conversation.
    before = len(transcript(crm_url, conversation.id))
    await customer.send(customer.user.text("My teapot arrived with a cracked lid"))
    await staff_console.wait_for_customer_message("cracked lid")  # live in the console
    arrived = await customer.nothing_more(8)
    after = transcript(crm_url, conversation.id)[before:]
    assert [m.text for m in after if m.sender == Sender.customer] == ["My teapot arrived with a cracked lid"]
    assert [m for m in after if m.sender == Sender.bot] == []
    # Whatever did go out (at most a note that the team will answer) was not the bot.
    assert len(arrived) == len([m for m in after if m.sender != Sender.customer])
    customer.seen += len(arrived)

    # Staff resolve: the bot is back and asks for a rating with an inline keyboard.
    await staff_console.resolve()
    ask = await customer.messages()
    titles = [
        b["text"]
        for m in ask
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row
    ]
    assert {"1", "2", "3", "4", "5"} <= set(titles)

    # She taps 5, then skips the comment: the rating is stored with the staff member.
    comment = await customer.tap(ask, "5")
    await customer.tap(comment, "Skip")
    with session_scope(crm_url) as session:
        feedback = session.scalars(select(Feedback).where(Feedback.conversation_id == conversation.id)).one()
        assert (feedback.kind, feedback.score) == ("csat", 5)
        assert feedback.staff_user_id == staff_user.id
        assert feedback.customer_id == marta.id
        handoff = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation.id).order_by(Handoff.id.desc())
        ).first()
        assert handoff is not None and handoff.status == HandoffStatus.resolved
        assert handoff.resolved_by_id == staff_user.id
