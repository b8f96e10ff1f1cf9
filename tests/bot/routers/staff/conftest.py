"""Fixtures of the staff console tests: a gateway on a real port with the handoff-aware
stand-in Rasa, staff members signed in through it, and (for the sign-in tests) a gateway
whose sign-in limits barely refill, and staff clients of one's own (`staff_client`; `browser` is the real Chromium of tests/bot/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from crm.models import StaffRole
from tests.bot.staff_support import HandoffRasa, StaffClient, create_staff, staff_email
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa


@pytest_asyncio.fixture
async def rasa(fake_rasa: FakeRasa, db: sessionmaker[Session]) -> HandoffRasa:
    handoff_rasa = HandoffRasa(fake_rasa, db)
    fake_rasa.handler = handoff_rasa.handler  # type: ignore[method-assign]
    return handoff_rasa


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any], rasa: HandoffRasa) -> Gateway:
    return await start_gateway(staff_session_secret="staff-session-secret-for-tests-0123")


@pytest_asyncio.fixture
async def staff(gateway: Gateway) -> AsyncIterator[Callable[..., Any]]:
    clients: list[StaffClient] = []

    async def sign_in(
        db: sessionmaker[Session], name: str = "Sam Carter", role: StaffRole = StaffRole.agent
    ) -> tuple[StaffClient, int]:
        staff_id = create_staff(db, name=name, role=role)
        client = StaffClient(gateway.url)
        clients.append(client)
        await client.sign_in(staff_email(db, staff_id))
        return client, staff_id

    yield sign_in
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture
async def start_guarded_gateway(
    start_gateway: Callable[..., Any], rasa: HandoffRasa
) -> Callable[..., Awaitable[Gateway]]:
    """start_guarded_gateway(**settings): the gateway with sign-in limits of one a minute."""

    async def start(**settings: Any) -> Gateway:
        # Buckets that barely refill, so the limits show however slow argon2 is on this machine.
        return await start_gateway(
            staff_session_secret="staff-session-secret-for-tests-0123",
            rate_limit_sign_in_per_minute=1,
            rate_limit_sign_in_ip_per_minute=1,
            **settings,
        )

    return start


@pytest_asyncio.fixture
async def staff_client(gateway: Gateway) -> AsyncIterator[Callable[..., StaffClient]]:
    """staff_client(**client options): a staff client of its own (headers, cookies), closed at the end."""
    clients: list[StaffClient] = []

    def make(**kw: Any) -> StaffClient:
        client = StaffClient(gateway.url, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture
async def start_production_gateway(start_gateway: Callable[..., Any]) -> Callable[..., Awaitable[Gateway]]:
    """start_production_gateway(**settings): the gateway in production, with the secrets it insists on."""

    async def start(**settings: Any) -> Gateway:
        # Production refuses weak secrets: these are what `secrets.token_urlsafe(32)` makes.
        return await start_gateway(
            environment="production",
            rasa_token="Rasa-test-token_7Hq2Vx9Lm4Zr8Tp3Wk6Nd1Hs5Jb0",
            widget_identity_secret="Widget-test-secret_3Fg8Yc2Ue7AoQiRx5Bn9Ml4Kd1",
            **settings,
        )

    return start
