"""Erasure through the gateway (issue 7, item 14): the customer sees the
confirmation, and afterwards nothing in the CRM, the dedupe claims, the
verification counters or the gateway's logs identifies them."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.logs import JsonFormatter
from crm.clock import utcnow
from crm.models import AuditEntry, Conversation, Customer, Message, Order, OrderStatus, VerificationFailure
from crm.services.customers import erase_customer, erased_tag
from crm.services.verification_limits import Attempt, client_fingerprint, record_failure
from crm.settings import get_settings as crm_settings
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa, RasaCall

pytestmark = pytest.mark.asyncio

CONFIRMATION = "Done. I've deleted your details. This conversation will be deleted too. Take care!"


@pytest_asyncio.fixture
async def gateway(start_gateway: Any) -> Gateway:
    return await start_gateway()


def _dump(db: sessionmaker[Session]) -> str:
    """Every row of every table that could hold something about a customer."""
    with db() as session:
        rows: list[Any] = []
        for model in (Customer, Conversation, Message, AuditEntry, VerificationFailure, Order):
            for row in session.scalars(select(model)):
                rows.append({c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs})
    return json.dumps(rows, default=str)


async def test_the_customer_sees_the_confirmation_and_nothing_identifying_remains(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer, db: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with db() as session:
        session.add(
            Order(number="88001", customer_id=customer.id, placed_at=utcnow(), status=OrderStatus.paid,
                  total=10, shipping_address="1 Secret Lane")
        )
        # An earlier failed verification against Ada's e-mail, counted by hash.
        record_failure(session, attempt=Attempt(order_number="88001", email=customer.email, client=None),
                       settings=crm_settings(), now=utcnow())
        session.commit()

    def reply(call: RasaCall) -> list[dict[str, Any]]:
        if call.message != "yes, delete everything":
            return [{"text": "Are you sure you want me to delete your data?"}]
        # What action_erase_customer_data does, in the middle of the gateway's turn.
        with db() as session:
            target = session.scalars(select(Customer).where(Customer.external_id == "C001")).one()
            erase_customer(session, customer=target, actor="customer:C001")
            session.commit()
        return [{"text": CONFIRMATION}]

    fake_rasa.reply = reply
    async with gateway.connect(customer_id="C001", sign=True) as tab:
        assert (await tab.recv())["type"] == "session"
        assert (await tab.recv())["type"] == "history"
        await tab.say("m-1", "delete my data")
        await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
        await tab.say("m-2", "yes, delete everything")
        confirmation, _ = await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
        assert confirmation["text"] == CONFIRMATION
        # The turn ends normally (no apology, no error frame).
        after = await tab.quiet(0.5)
        assert not [f for f in after if f["type"] == "error" or f.get("from") == "system"]

    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"
    everything = _dump(db)
    for personal in ("C001", "Ada", "Lovelace", "ada.lovelace@example.com", "+447700900123", "88001",
                     "Secret Lane", "delete my data", "yes, delete everything", CONFIRMATION):
        assert personal not in everything, personal
    with db() as session:
        assert session.scalars(select(Conversation)).all() == []
        assert session.scalars(select(VerificationFailure)).all() == []
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erase")).one()
        assert entry.subject == f"customer:{erased_tag('C001')}"
    # What the gateway writes to its log, as its formatter writes it (uvicorn's lines included).
    formatter = JsonFormatter()
    logged = "\n".join(
        formatter.format(r) for r in caplog.records
        if r.levelno >= logging.INFO and r.name.split(".")[0] in {"bot", "uvicorn", "crm"}
    )
    for personal in ("C001", "ada.lovelace@example.com", "+447700900123", "delete my data"):
        assert personal not in logged, personal


async def test_a_client_fingerprint_names_no_address() -> None:
    print_ = client_fingerprint("sms:+447700900123")
    assert "447700900123" not in print_ and print_ == client_fingerprint("sms:+447700900123")
