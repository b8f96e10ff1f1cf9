"""Fail fast on the database: a locked CRM is said out loud within 2 s, and health never waits for it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.engine import make_url

from crm.models import Sender, TurnState
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import messages_of
from tests.fakes.widget import is_bot_message, open_session

pytestmark = pytest.mark.asyncio


@contextmanager
def locked(db_url: str) -> Iterator[None]:
    """Another connection holds the write lock, as a long import or a stuck job would."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("SQLite's file lock; PostgreSQL's lock_timeout is set on the same setting")
    conn = sqlite3.connect(url.database, timeout=0, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_a_locked_database_gets_unavailable_within_2s_and_healthz_answers_fast(
    gateway: Gateway, gateway_db_url: str, fake_rasa: FakeRasa
) -> None:
    async with gateway.connect() as tab:
        token, _ = await open_session(tab)
        with locked(gateway_db_url):
            began = time.monotonic()
            await tab.say("c-1", "where is my parcel?")
            frame = await tab.recv(timeout=5)
            took = time.monotonic() - began
            assert frame["type"] == "error" and frame["code"] == "unavailable" and frame["id"] == "c-1"
            assert took < 2.0
            # Many checks at once, while writes wait on the lock: each answers fast.
            async with httpx.AsyncClient(timeout=5) as http:
                began = time.monotonic()
                answers = await asyncio.gather(*(http.get(gateway.url + "/healthz") for _ in range(10)))
                assert time.monotonic() - began < 2.0
            assert {a.status_code for a in answers} == {200}
            # A returning customer's new tab gets its session and history without waiting.
            began = time.monotonic()
            async with gateway.connect(session=token) as other:
                history, _ = await other.recv_until(lambda f: f["type"] == "history", timeout=5)
            assert history["messages"] == []
            assert time.monotonic() - began < 2.0
            assert fake_rasa.calls == []
        # The lock is gone: the resent message is taken and answered.
        await tab.say("c-1", "where is my parcel?")
        assert await tab.recv() == {"type": "ack", "id": "c-1"}
        reply, _ = await tab.recv_until(is_bot_message)
        assert reply["text"] == "echo: where is my parcel?"


async def test_a_lock_taken_mid_turn_gets_the_apology_and_the_transcript_later(
    gateway: Gateway, gateway_db_url: str, fake_rasa: FakeRasa, db: object
) -> None:
    fake_rasa.delay = 0.5
    async with gateway.connect() as tab:
        await open_session(tab)
        await tab.say("c-1", "hello")
        assert await tab.recv() == {"type": "ack", "id": "c-1"}
        while not fake_rasa.calls:
            await asyncio.sleep(0.01)
        with locked(gateway_db_url):  # Rasa answers while nothing can be written
            began = time.monotonic()
            reply, _ = await tab.recv_until(is_bot_message, timeout=5)
            assert time.monotonic() - began < 2.5
            # Rasa's answer reaches the customer even though it cannot be stored yet.
            assert reply["text"] == "echo: hello"
    # Once the lock is gone, the next recovery pass writes the answer down.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        stored = messages_of(db, _conversation_id(db))  # type: ignore[arg-type]
        customer = [m for m in stored if m.sender == Sender.customer]
        if customer and customer[0].turn_state == TurnState.answered:
            break
        await asyncio.sleep(0.2)
    assert [m.text for m in stored if m.sender == Sender.bot] == ["echo: hello"]
    assert customer[0].turn_state == TurnState.answered


def _conversation_id(db: object) -> str:
    from sqlalchemy import select

    from crm.models import Conversation

    with db() as session:  # type: ignore[operator]
        return session.scalars(select(Conversation.id)).one()
