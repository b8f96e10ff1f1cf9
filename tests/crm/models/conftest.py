"""Fixtures of the schema tests: rows the database itself must refuse, and what a raw SQL row holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


@pytest.fixture
def refused(session: Session) -> Callable[..., None]:
    """refused(*rows): adding them breaks a constraint; the rest of the test's data stays."""

    def add(*rows: Any) -> None:
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add_all(rows)

    return add


@pytest.fixture
def stored(session: Session) -> Callable[[str], Any]:
    """stored("SELECT ..."): the one value as the database holds it, past the ORM's types."""

    def scalar(sql: str) -> Any:
        session.flush()
        return session.execute(text(sql)).scalar_one()

    return scalar
