"""The intake service (bot.intake.door): the one door every channel calls the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import InboundMessage
from bot.conversations import ConversationService
from bot.identity import hash_session_token
from bot.intake.door import Intake
from bot.metrics import Metrics
from bot.rasa import RasaClient
from crm.clock import utcnow
from crm.models import Conversation, Customer, Sender, TurnState
from tests.fakes.rasa import RASA_TOKEN, RASA_URL, FakeRasa
from tests.fakes.rigs import messages_of

pytestmark = pytest.mark.asyncio

SMS: dict[str, Any] = {"channel": "sms", "address": "+447700900123", "locale": "en", "sticky": False}
CHAT: dict[str, Any] = {"channel": "telegram", "address": "42", "locale": "en", "sticky": True}


@pytest_asyncio.fixture
async def intake(db: sessionmaker[Session], fake_rasa: FakeRasa) -> AsyncIterator[Intake]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake_rasa.handler)) as http:
        service = ConversationService(
            sessionmaker=db,
            rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=2),
            metrics=Metrics(),
        )
        yield Intake(service=service, sessionmaker=db)
        await service.aclose(timeout=5)


async def test_open_finds_binds_and_starts(intake: Intake, customer: Customer) -> None:
    anonymous = await intake.open(customer=None, **SMS)
    assert anonymous.customer_external_id is None
    again = await intake.open(customer=None, **SMS)
    assert again.id == anonymous.id
    bound = await intake.open(customer="C001", **SMS)
    assert bound.id == anonymous.id and bound.customer_external_id == "C001"


async def test_a_sender_no_longer_vouched_for_keeps_the_thread_only_where_it_is_sticky(
    intake: Intake, customer: Customer
) -> None:
    verified = await intake.open(customer="C001", **SMS)
    # SMS: the number may have changed hands; a thread verified by the number stays with its customer.
    fresh = await intake.open(customer=None, **SMS)
    assert fresh.id != verified.id and fresh.customer_external_id is None
    chat = await intake.open(customer="C001", **CHAT)
    # Telegram: the chat is the account's; it carries on verified.
    same = await intake.open(customer=None, **CHAT)
    assert same.id == chat.id and same.customer_external_id == "C001"


async def test_an_erased_customer_leaves_the_sender_anonymous(intake: Intake) -> None:
    started = await intake.open(customer="C404", **{**SMS, "address": "+447700900555"})
    assert started.customer_external_id is None


async def test_record_stores_the_message_and_its_answer_once(
    intake: Intake, db: sessionmaker[Session]
) -> None:
    conversation = await intake.open(customer=None, **CHAT)
    inbound = InboundMessage(
        channel="telegram", conversation_id=conversation.id, channel_message_id="7:42:1", text="/start"
    )
    first = await intake.record(inbound, reply="Hi!", data={"kind": "k"}, event={"kind": "e"})
    again = await intake.record(inbound, reply="Hi!", data={"kind": "k"}, event={"kind": "e"})
    assert not first.duplicate and first.reply is not None and first.reply.text == "Hi!"
    assert again.duplicate and again.reply is None
    stored = messages_of(db, conversation.id)
    assert [(m.sender, m.text, m.data) for m in stored] == [
        (Sender.customer, "/start", {"kind": "e"}),
        (Sender.system, "Hi!", {"kind": "k"}),
    ]
    assert stored[0].turn_state == TurnState.answered  # no turn left open for recovery


async def test_a_claim_is_granted_once(intake: Intake) -> None:
    assert await intake.claim("telegram:1:-100")
    assert not await intake.claim("telegram:1:-100")
    assert await intake.claim("telegram:2:-100")


async def test_one_sender_at_a_time_in_arrival_order(intake: Intake) -> None:
    order: list[str] = []

    async def arrive(name: str, pause: float) -> None:
        async with intake.in_line("sms", "+447700900123"):
            order.append(f"{name} in")
            await asyncio.sleep(pause)
            order.append(f"{name} out")

    await asyncio.gather(arrive("first", 0.05), arrive("second", 0))
    assert order == ["first in", "first out", "second in", "second out"]


# -- the widget's browser sessions ---------------------------------------------------------

WEB: dict[str, Any] = {"channel": "web", "locale": "en", "idle_after": timedelta(days=1)}


async def test_a_session_token_carries_on_only_for_the_same_identity(
    intake: Intake, customer: Customer
) -> None:
    first, token = await intake.session(token=None, customer=None, expired_claim=None, **WEB)
    assert token is not None and first.address == hash_session_token(token)
    again, none = await intake.session(token=token, customer=None, expired_claim=None, **WEB)
    assert (again.id, none) == (first.id, None)
    # Sign-in does not bind the anonymous session: a new session, the old thread stays as it was.
    signed, signed_token = await intake.session(token=token, customer="C001", expired_claim=None, **WEB)
    assert signed.id != first.id and signed_token not in (None, token)
    assert signed.customer_external_id == "C001"
    # Signed out on the same tab (or another person): a new anonymous session.
    out, out_token = await intake.session(token=signed_token, customer=None, expired_claim=None, **WEB)
    assert out.id != signed.id and out_token is not None and out.customer_external_id is None
    # A signature that expired keeps its own customer's conversation, and only that one.
    kept, kept_token = await intake.session(token=signed_token, customer=None, expired_claim="C001", **WEB)
    assert (kept.id, kept_token) == (signed.id, None)
    other, _ = await intake.session(token=signed_token, customer=None, expired_claim="C002", **WEB)
    assert other.id != signed.id


async def test_an_unknown_malformed_or_idle_token_starts_a_new_session(
    intake: Intake, db: sessionmaker[Session]
) -> None:
    for token in ("x" * 43, "not a token"):
        started, new_token = await intake.session(token=token, customer=None, expired_claim=None, **WEB)
        assert new_token is not None and new_token != token
        assert started.address == hash_session_token(new_token)
    first, token = await intake.session(token=None, customer=None, expired_claim=None, **WEB)
    with db.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == first.id)
            .values(updated_at=utcnow() - timedelta(days=2))
        )
    idle, idle_token = await intake.session(token=token, customer=None, expired_claim=None, **WEB)
    assert idle.id != first.id and idle_token is not None
