"""Erasure over the widget against the real stack (issue 7, item 14): the customer
sees the confirmation, and nothing identifying is left in the CRM, the
transcripts, Rasa's tracker store, the verification counters or the logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bot.identity import hash_session_token
from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import AuditEntry, Conversation, Customer, Message, Order
from crm.services.customers import erased_tag
from tests.fakes.widget import WidgetCustomer

pytestmark = pytest.mark.asyncio(loop_scope="function")

# A demo customer no other end-to-end test talks to.
WHO = "C020"
PERSONAL = ("C020", "Thomas", "Wright", "thomas.wright@example.com")


async def test_erasure_is_confirmed_in_the_widget_and_leaves_nothing_behind(
    stack: Stack, stack_env: dict[str, str], crm_url: str
) -> None:
    with session_scope(crm_url) as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == WHO)).one()
        numbers = [n for n in session.scalars(select(Order.number).where(Order.customer_id == customer.id))]
    client = await WidgetCustomer.connect(
        stack.gateway_port, customer_id=WHO, secret=stack_env["WIDGET_IDENTITY_SECRET"]
    )
    try:
        await client.say("hello")
        asked = await client.say("please delete my account and all my data")
        assert "can't be undone" in asked.text
        confirmed = await client.press(asked.button("Yes, delete"))
        assert "Done. I've deleted" in confirmed.text, confirmed.text
        session_token = client.session
    finally:
        await client.close()

    with session_scope(crm_url) as session:
        assert session.scalars(select(Customer).where(Customer.external_id == WHO)).first() is None
        assert session.scalars(select(Order).where(Order.number.in_(numbers))).all() == []
        rows = [
            f"{e.actor} {e.subject} {e.detail}" for e in session.scalars(select(AuditEntry))
        ] + [m.text for m in session.scalars(select(Message))]
        assert [e for e in session.scalars(select(AuditEntry)) if e.subject == f"customer:{erased_tag(WHO)}"]
        assert session_token is not None
        gone = select(Conversation).where(Conversation.address == hash_session_token(session_token))
        assert session.scalars(gone).all() == []
    everything = "\n".join(rows)
    for personal in PERSONAL + tuple(numbers):
        assert personal not in everything, personal

    tracker_db = create_engine(stack_env["TRACKER_STORE_URL"])
    try:
        with tracker_db.connect() as conn:
            events = "\n".join(str(row[0]) for row in conn.execute(text("SELECT data FROM events")))
    finally:
        tracker_db.dispose()
    for personal in PERSONAL:
        assert personal not in events, personal

    logs = "\n".join(p.read_text() for p in (Path(stack_env["STACK_WORK_DIR"]) / "logs").glob("*.log"))
    for personal in ("thomas.wright@example.com", "please delete my account"):
        assert personal not in logs, personal
