"""Fixtures of the staff console tests: a gateway on a real port with the handoff-aware
stand-in Rasa, and staff members signed in through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
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
