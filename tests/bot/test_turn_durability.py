"""Which writes of a turn wait for the disk: the customer's message, stored before the acknowledgement,
is committed on the durable connections; the turn's bookkeeping (its marks, the bot's replies, the
delivery marks, how the message was read) on the notes' connections (bot/core/db.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from bot.conversations import Outcome
from crm.db import make_engine
from crm.models import Message
from tests.bot.test_conversations import inbound
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import make_service

pytestmark = pytest.mark.asyncio


def _recorded(maker: sessionmaker[Session]) -> list[str]:
    """What sessions of `maker` write: "insert <sender>" per new message, "update <table>" per UPDATE."""
    log: list[str] = []

    @event.listens_for(maker, "before_flush")
    def _flush(session: Session, *_: Any) -> None:
        log.extend(f"insert {o.sender.value}" for o in session.new if isinstance(o, Message))

    @event.listens_for(maker, "do_orm_execute")
    def _execute(state: ORMExecuteState) -> None:
        if state.is_update:
            log.append(f"update {state.statement.table.name}")  # type: ignore[attr-defined]

    return log


@pytest.fixture
def notes(gateway_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(gateway_db_url, durable=False)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


async def test_the_message_is_stored_durably_and_the_turns_bookkeeping_on_the_notes(
    db: sessionmaker[Session], notes: sessionmaker[Session]
) -> None:
    durable_log, notes_log = _recorded(db), _recorded(notes)
    fake = FakeRasa(parse=lambda _call: {"intent": "greet", "confidence": 0.2})
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as http:
        service, channel, _ = make_service(db, http, notes=notes)
        try:
            conversation = await service.start_conversation(
                channel="web", address="addr", customer_external_id=None, locale="en"
            )
            durable_log.clear()
            assert await service.handle(inbound(conversation.id, "1", "hello")) is Outcome.answered
            await service.deliveries.settled()
        finally:
            await service.aclose(timeout=5)
    assert channel.texts(conversation.id) == ["echo: hello"]
    assert "insert customer" in durable_log
    assert not any(entry.startswith("insert bot") for entry in durable_log)
    assert "update messages" not in durable_log  # no turn mark waits for the disk
    # Begun (processing), the reply stored, delivery marked, the reading stored, answered.
    assert "insert bot" in notes_log
    assert notes_log.count("update messages") >= 3, notes_log
    assert "insert customer" not in notes_log
