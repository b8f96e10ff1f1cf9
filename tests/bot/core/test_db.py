"""bot/core/db.py: one unit of work per call, committed on success and rolled back on failure; which
writes of a turn wait for the disk (the customer's message, stored before the acknowledgement) and which
are the turn's bookkeeping on the notes' connections (its marks, the bot's replies, the delivery marks,
how the message was read)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.conversations import Outcome
from bot.core.db import OneWriter, UnitOfWork
from bot.unit_of_work import run as run_unit
from crm.db import make_engine
from crm.models import Message
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import inbound, make_service


@pytest.fixture
def factory() -> sessionmaker[Session]:
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    return sessionmaker(engine)


def _add(session: Session, *, body: str) -> str:
    session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})
    if body == "bad":
        raise ValueError("refused")
    return body


def _bodies(session: Session) -> list[str]:
    return list(session.scalars(select(text("body")).select_from(text("notes"))))


async def test_a_unit_of_work_commits_and_a_failing_one_rolls_back(factory: sessionmaker[Session]) -> None:
    uow = UnitOfWork(factory)
    try:
        assert await uow.db(_add, body="kept") == "kept"
        with pytest.raises(ValueError):
            await uow.db(_add, body="bad")
        assert await uow.read(_bodies) == ["kept"]
    finally:
        uow.close()


async def test_reads_use_their_own_sessionmaker(factory: sessionmaker[Session]) -> None:
    used: list[str] = []

    def reads() -> Session:
        used.append("reads")
        return factory()

    uow = UnitOfWork(factory, reads=reads)  # type: ignore[arg-type]
    try:
        await uow.read(_bodies)
        await uow.db(_bodies)
        assert used == ["reads"]
    finally:
        uow.close()


async def test_notes_use_their_own_sessionmaker_and_default_to_the_writers(
    factory: sessionmaker[Session],
) -> None:
    used: list[str] = []

    def notes() -> Session:
        used.append("notes")
        return factory()

    uow = UnitOfWork(factory, notes=notes)  # type: ignore[arg-type]
    plain = UnitOfWork(factory)
    try:
        assert await uow.note(_add, body="noted") == "noted"
        await uow.db(_bodies)
        assert used == ["notes"]
        assert await plain.note(_bodies) == ["noted"]
    finally:
        uow.close()
        plain.close()


async def test_with_one_writer_the_writes_take_turns_and_reads_do_not_wait(
    factory: sessionmaker[Session],
) -> None:
    import asyncio
    import threading
    import time

    from sqlalchemy.exc import OperationalError

    inside: list[int] = []
    overlap: list[int] = []
    release = threading.Event()

    def slow(session: Session, *, n: int) -> int:
        inside.append(n)
        overlap.append(len(inside))
        release.wait(5)
        inside.remove(n)
        return n

    uow = UnitOfWork(factory, notes=factory, writer=OneWriter(timeout=0.3))
    try:
        first = asyncio.ensure_future(uow.db(slow, n=1))
        while not inside:
            await asyncio.sleep(0.01)
        # A read does not queue behind the write in progress.
        began = time.monotonic()
        assert await uow.read(_bodies) == []
        assert time.monotonic() - began < 0.25
        # A second write waits for its turn, and fails like a locked database once it waited too long.
        with pytest.raises(OperationalError):
            await uow.note(slow, n=2)
        second = asyncio.ensure_future(uow.note(slow, n=3))
        await asyncio.sleep(0.05)
        release.set()
        assert await asyncio.gather(first, second) == [1, 3]
        assert max(overlap) == 1
    finally:
        uow.close()


def test_run_unit_is_the_same_unit_of_work_without_the_event_loop(factory: sessionmaker[Session]) -> None:
    assert run_unit(factory, _add, body="sync") == "sync"
    with pytest.raises(ValueError):
        run_unit(factory, _add, body="bad")
    assert run_unit(factory, _bodies) == ["sync"]


# -- the gateway: what waits for the disk ---------------------------------------------------


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
