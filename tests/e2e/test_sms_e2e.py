"""SMS end to end on the real stack (trained model, action server, gateway, demo
CRM): the gateway's twilio client sends to the local fake REST API, webhooks are
signed with the real RequestValidator, and the staff side is headless Chromium
in the staff console."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select

from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Feedback,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
)
from tests.e2e.staff_console import StaffAccount, StaffConsole
from tests.fakes.twilio import SHOP_NUMBER, FakeTwilioApi, Phone

pytestmark = pytest.mark.asyncio(loop_scope="function")

PATH = "/webhooks/twilio/sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
# How long a turn's texts keep coming: a bot turn may be several messages.
QUIET_SECONDS = 2.0
STRANGER = "+447700900561"


@dataclass
class SmsCustomer:
    """A person texting the shop: each text is one signed webhook; what the shop
    texts back shows up at the fake Twilio API."""

    stack: Stack
    twilio: FakeTwilioApi
    number: str
    seen: int = field(init=False)

    def __post_init__(self) -> None:
        self.seen = len(self.twilio.sent_to(self.number))

    async def send(self, body: str) -> None:
        phone = Phone(self.number)
        form = phone.form(body)
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.stack.gateway_url + PATH, data=form, headers={"X-Twilio-Signature": phone.sign(form)}
            )
        assert response.status_code == 200 and response.text == EMPTY_TWIML, response.text

    def _count(self) -> int:
        return len(self.twilio.sent_to(self.number))

    async def texts(self, timeout: float = 90) -> list[str]:
        """The texts that arrive next (at least one), once they stop coming."""
        deadline = time.monotonic() + timeout
        while self._count() <= self.seen:
            assert time.monotonic() < deadline, "no text arrived"
            await asyncio.sleep(0.1)
        count = self._count()
        while True:
            await asyncio.sleep(QUIET_SECONDS)
            if self._count() == count:
                break
            count = self._count()
        new = self.twilio.sent_to(self.number)[self.seen :]
        self.seen += len(new)
        assert all(s.from_ == SHOP_NUMBER for s in new)
        return [s.body for s in new]

    async def say(self, body: str, timeout: float = 90) -> str:
        await self.send(body)
        return "\n".join(await self.texts(timeout))

    async def texts_within(self, seconds: float) -> list[str]:
        """Whatever arrives in the next `seconds` (possibly nothing)."""
        await asyncio.sleep(seconds)
        new = self.twilio.sent_to(self.number)[self.seen :]
        self.seen += len(new)
        return [s.body for s in new]


def customer_number(crm_url: str, external_id: str) -> str:
    with session_scope(crm_url) as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).one()
        assert customer.phone
        return customer.phone


def sms_conversation(crm_url: str, number: str) -> Conversation:
    with session_scope(crm_url) as session:
        conversation = session.scalars(
            select(Conversation)
            .where(Conversation.channel == "sms", Conversation.address == number)
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


def option_for(text: str, title: str) -> str:
    """The number to text for option `title` in a text with numbered options."""
    match = re.search(rf"(\d+) for {re.escape(title)}\b", text) or re.search(
        rf"^(\d+)\) {re.escape(title)}$", text, re.MULTILINE
    )
    assert match, f"no option {title!r} in {text!r}"
    return match.group(1)


async def test_a_forged_text_is_refused_and_nothing_is_stored(
    stack: Stack, crm_url: str, fake_twilio: FakeTwilioApi
) -> None:
    phone = Phone("+447700900562")
    form = phone.form("hello")
    async with httpx.AsyncClient(timeout=30) as http:
        forged = await http.post(
            stack.gateway_url + PATH,
            data=form,
            headers={"X-Twilio-Signature": phone.sign(form, token="not-the-shops-token")},
        )
        unsigned = await http.post(stack.gateway_url + PATH, data=form)
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    with session_scope(crm_url) as session:
        found = session.scalars(select(Conversation).where(Conversation.address == phone.number)).all()
        assert found == []
    assert fake_twilio.sent_to(phone.number) == []


async def test_a_known_number_is_greeted_by_name(
    stack: Stack, crm_url: str, fake_twilio: FakeTwilioApi
) -> None:
    number = customer_number(crm_url, "C009")
    text = await SmsCustomer(stack, fake_twilio, number).say("hi")
    assert "James" in text
    assert sms_conversation(crm_url, number).customer_id is not None


async def test_an_unknown_number_is_asked_to_verify_in_the_chat(
    stack: Stack, crm_url: str, fake_twilio: FakeTwilioApi
) -> None:
    customer = SmsCustomer(stack, fake_twilio, STRANGER)
    text = await customer.say("where is my order?")
    assert "order number" in text.lower()
    text = await customer.say("it's #1043")
    assert "mail" in text.lower()
    assert "Royal Mail" not in text  # nothing about the order before verification
    assert sms_conversation(crm_url, STRANGER).customer_id is None


async def test_a_person_takes_over_by_sms_and_the_rating_is_stored_with_them(
    stack: Stack,
    crm_url: str,
    fake_twilio: FakeTwilioApi,
    staff_user: StaffAccount,
    staff_console: StaffConsole,
) -> None:
    number = customer_number(crm_url, "C008")
    customer = SmsCustomer(stack, fake_twilio, number)
    assert "Hannah" in await customer.say("hello")

    # The customer asks for a person: the bot says so and the conversation is queued.
    await customer.say("I'd like to talk to a person please")
    conversation = sms_conversation(crm_url, number)
    with session_scope(crm_url) as session:
        row = session.get(Conversation, conversation.id)
        assert row is not None and row.state == ConversationState.queued
        assert session.scalars(select(Handoff).where(Handoff.conversation_id == conversation.id)).first()

    # A member of staff, in Chromium, takes it and answers: the text reaches the phone.
    await staff_console.sign_in(staff_user.email, staff_user.password)
    await staff_console.open_queue()
    await staff_console.wait_for_conversation(conversation.id)
    await staff_console.assign_to_me()
    staff_words = "Hi Hannah, this is Sam from the shop. How can I help?"
    await staff_console.reply(staff_words)
    texts = await customer.texts()
    assert texts[-1] == staff_words
    lines = transcript(crm_url, conversation.id)
    agent_lines = [m for m in lines if m.sender == Sender.agent]
    assert [(m.text, m.staff_user_id) for m in agent_lines] == [(staff_words, staff_user.id)]
    # Anything before it (that someone has joined) is the gateway's own note, not the bot.
    system_lines = {m.text for m in lines if m.sender == Sender.system}
    assert all(text in system_lines for text in texts[:-1]), texts

    # The customer answers; the bot stays silent while a person holds the conversation.
    before = len(transcript(crm_url, conversation.id))
    await customer.send("My teapot arrived with a cracked lid")
    await staff_console.wait_for_customer_message("cracked lid")  # live in the console
    arrived = await customer.texts_within(6)
    after = transcript(crm_url, conversation.id)[before:]
    assert [m.text for m in after if m.sender == Sender.customer] == ["My teapot arrived with a cracked lid"]
    assert [m for m in after if m.sender == Sender.bot] == []
    # Whatever did go out (at most a note that the team will answer) was the gateway's, not the bot's.
    assert arrived == [m.text for m in after if m.sender == Sender.system]

    # Staff resolve: the bot is back and asks for a rating as numbered options.
    await staff_console.resolve()
    ask = "\n".join(await customer.texts())
    assert "Reply with a number from 1 to 5." in ask

    # "5" picks the fifth option; the rating is kept once the customer has
    # said whether to add a comment.
    comment = await customer.say("5")
    await customer.say(option_for(comment, "Skip"))
    with session_scope(crm_url) as session:
        feedback = session.scalars(select(Feedback).where(Feedback.conversation_id == conversation.id)).one()
        assert (feedback.kind, feedback.score) == ("csat", 5)
        assert feedback.staff_user_id == staff_user.id
        handoff = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation.id).order_by(Handoff.id.desc())
        ).first()
        assert handoff is not None and handoff.status == HandoffStatus.resolved
        assert handoff.resolved_by_id == staff_user.id
        pick = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.sender == Sender.customer)
            .where(Message.text == "5")
            .order_by(Message.id.desc())
        ).first()
        # The stored pick carries the rating button's payload: the number mapped back to it.
        assert pick is not None and pick.data is not None and "rating" in pick.data["payload"]
