"""bot/persistence test fixtures: each step run as its own unit of work on the gateway's database,
and a conversation to run it on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.core.db import run_unit
from bot.persistence import rows

T = TypeVar("T")


@pytest.fixture
def unit(db: sessionmaker[Session]) -> Callable[..., Any]:
    def run(fn: Callable[..., T], /, **kwargs: Any) -> T:
        return run_unit(db, fn, **kwargs)

    return run


@pytest.fixture
def start(unit: Callable[..., Any]) -> Callable[..., Any]:
    """A new web conversation (at `address`, bound to `customer` when given)."""

    def create(address: str = "addr", customer: str | None = None) -> Any:
        return unit(
            rows.create_conversation, channel="web", address=address, customer_external_id=customer, locale="en"
        )

    return create
