"""bot/core/db.py: one unit of work per call, committed on success and rolled back on failure."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.core.db import UnitOfWork
from bot.unit_of_work import run as run_unit


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


async def test_notes_use_their_own_sessionmaker_and_default_to_the_writers(factory: sessionmaker[Session]) -> None:
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


def test_run_unit_is_the_same_unit_of_work_without_the_event_loop(factory: sessionmaker[Session]) -> None:
    assert run_unit(factory, _add, body="sync") == "sync"
    with pytest.raises(ValueError):
        run_unit(factory, _add, body="bad")
    assert run_unit(factory, _bodies) == ["sync"]
