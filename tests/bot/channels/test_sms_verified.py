"""An SMS customer who verified in the chat carries on in the same conversation (also after a restart)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from crm.models import AuditEntry, Conversation, Customer
from tests.bot.sms_support import STRANGER, conversations_at, deliver, settle, sms_settings
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio import FakeTwilioApi, Phone

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def gateway(twilio: FakeTwilioApi, start_gateway: Callable[..., Any]) -> Gateway:
    # Twilio first: the gateway stops (and drains its texts) before the fake does.
    return await start_gateway(**sms_settings(twilio))


def bind(db: sessionmaker[Session], conversation_id: str, customer: Customer, *, in_chat: bool) -> None:
    with db() as session:
        session.execute(update(Conversation).where(Conversation.id == conversation_id).values(customer_id=customer.id))
        if in_chat:  # what actions/identity.py records when the order number and e-mail match
            session.add(
                AuditEntry(
                    actor=f"customer:{customer.external_id}",
                    action="identity.verify",
                    subject=f"conversation:{conversation_id}",
                    detail={"channel": "sms"},
                )
            )
        session.commit()


async def test_a_customer_verified_in_the_chat_is_not_asked_again(
    gateway: Gateway, fake_rasa: FakeRasa, db: sessionmaker[Session], customer: Customer
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "where is my order?")
    await settle(fake_rasa)
    [conversation] = conversations_at(db, STRANGER)
    bind(db, conversation.id, customer, in_chat=True)
    await deliver(gateway, phone, "and when will it arrive?")
    await settle(fake_rasa)
    assert [c.id for c in conversations_at(db, STRANGER)] == [conversation.id]
    assert fake_rasa.calls[-1].sender == conversation.id
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"


async def test_a_thread_bound_otherwise_stays_with_its_customer(
    gateway: Gateway, fake_rasa: FakeRasa, db: sessionmaker[Session], customer: Customer
) -> None:
    phone = Phone(STRANGER)
    await deliver(gateway, phone, "hello")
    await settle(fake_rasa)
    [conversation] = conversations_at(db, STRANGER)
    # Bound by a phone match the CRM no longer has: whoever texts now starts afresh.
    bind(db, conversation.id, customer, in_chat=False)
    await deliver(gateway, phone, "hello again")
    await settle(fake_rasa)
    assert len(conversations_at(db, STRANGER)) == 2
    assert fake_rasa.calls[-1].metadata["customer_id"] is None
