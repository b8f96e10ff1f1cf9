"""Widget credentials expire (issue 7, item 8): signed identities carry an expiry,
the old unexpiring form works only when the shop opts in, and idle sessions end."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.identity import IdentityPolicy, sign_customer_id, sign_customer_identity
from crm.clock import utcnow
from crm.models import Conversation, Customer, Message
from tests.fakes.gateway import IDENTITY_SECRET, Gateway
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway()


async def _first_turn(gateway: Gateway, **connect: Any) -> str | None:
    """Connect and say hello; the session token, if the gateway started a new session."""
    async with gateway.connect(**connect) as tab:
        first = await tab.recv()
        token = first.get("session") if first["type"] == "session" else None
        if token:
            await tab.recv()  # history
        await tab.say(f"m-{time.monotonic_ns()}", "hi")
        await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
    return token


async def test_the_policy_says_why() -> None:
    policy = IdentityPolicy(secret="s" * 32, max_ttl_seconds=3600)
    now = 1_800_000_000.0
    good = sign_customer_identity("C001", int(now) + 60, "s" * 32)
    assert policy.check("C001", str(int(now) + 60), good, now=now) == "ok"
    assert policy.check("C002", str(int(now) + 60), good, now=now) == "bad_signature"
    assert policy.check("C001", str(int(now) + 61), good, now=now) == "bad_signature"  # expiry is signed
    assert policy.check("C001", str(int(now) + 60), good, now=now + 61) == "expired"
    far = sign_customer_identity("C001", int(now) + 7200, "s" * 32)
    assert policy.check("C001", str(int(now) + 7200), far, now=now) == "too_long_lived"
    legacy = sign_customer_id("C001", "s" * 32)
    assert policy.check("C001", None, legacy, now=now) == "unexpiring"
    assert IdentityPolicy(secret="s" * 32, allow_unexpiring=True).check("C001", None, legacy, now=now) == "ok"
    assert policy.check("C001", "soon", good, now=now) == "bad_signature"
    assert policy.check("C001", str(int(now) + 60), "é" * 64, now=now) == "bad_signature"  # no TypeError


async def test_an_expired_or_unexpiring_identity_is_anonymous(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer
) -> None:
    now = int(time.time())
    expired = sign_customer_identity("C001", now - 1, IDENTITY_SECRET)
    await _first_turn(gateway, customer_id="C001", signature=expired + f"&expires={now - 1}")
    legacy = sign_customer_id("C001", IDENTITY_SECRET)
    await _first_turn(gateway, customer_id="C001", signature=legacy)
    assert [c.metadata["customer_id"] for c in fake_rasa.calls] == [None, None]
    assert await gateway.metric("gateway_rejected_messages_total", {"channel": "web", "reason": "identity_expired"}) == 1
    assert (
        await gateway.metric("gateway_rejected_messages_total", {"channel": "web", "reason": "identity_unexpiring"})
        == 1
    )


async def test_the_old_form_works_only_when_the_shop_opts_in(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa, customer: Customer
) -> None:
    gateway = await start_gateway(widget_identity_allow_unexpiring=True)
    await _first_turn(gateway, customer_id="C001", signature=sign_customer_id("C001", IDENTITY_SECRET))
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"


async def test_a_current_signature_verifies(gateway: Gateway, fake_rasa: FakeRasa, customer: Customer) -> None:
    await _first_turn(gateway, customer_id="C001", sign=True)
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"


async def test_a_tab_open_past_its_signature_keeps_its_own_conversation(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer, db: sessionmaker[Session]
) -> None:
    token = await _first_turn(gateway, customer_id="C001", sign=True)
    assert token
    now = int(time.time())
    stale = sign_customer_identity("C001", now - 10, IDENTITY_SECRET)
    async with gateway.connect(session=token, customer_id="C001", signature=stale + f"&expires={now - 10}") as tab:
        assert (await tab.recv())["type"] == "history"  # resumed, not a new session
        await tab.say("m-again", "still me")
        await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot")
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"
    with db() as session:
        assert len(session.scalars(select(Conversation)).all()) == 1


async def test_an_idle_session_expires(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa, customer: Customer, db: sessionmaker[Session]
) -> None:
    gateway = await start_gateway(widget_session_idle_days=30)
    token = await _first_turn(gateway, customer_id="C001", sign=True)
    assert token
    # Resumes while fresh…
    async with gateway.connect(session=token, customer_id="C001", sign=True) as tab:
        assert (await tab.recv())["type"] == "history"
    # …but not after 31 days without a message.
    old = utcnow() - timedelta(days=31)
    with db() as session:
        session.execute(update(Conversation).values(updated_at=old, created_at=old))
        session.execute(update(Message).values(created_at=old))
        session.commit()
    async with gateway.connect(session=token, customer_id="C001", sign=True) as tab:
        fresh = await tab.recv()
    assert fresh["type"] == "session" and fresh["session"] != token
