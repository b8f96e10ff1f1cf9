"""Fixtures of the staff console unit tests: a cheap password hasher and signed-in principals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from argon2 import PasswordHasher

from bot.staff import sessions
from bot.staff.context import Principal
from crm.models import StaffRole


@pytest.fixture
def cheap_hasher() -> PasswordHasher:
    """argon2id at its lowest cost: the account rules, not the hashing, are under test."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def principal() -> Callable[..., Principal]:
    """principal(id, role): a signed-in staff member as a request sees them."""

    def make(staff_id: int = 1, role: StaffRole = StaffRole.agent, name: str = "Sam Carter") -> Principal:
        signed = sessions.StaffSession("s1", staff_id, expires_at=0.0, password_fingerprint="f")
        email = f"staff{staff_id}@example.com"
        return Principal(id=staff_id, name=name, email=email, role=role, session=signed, csrf="c")

    return make
