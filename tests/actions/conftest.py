"""Action test fixtures.

`crm`: every `session_scope()` inside the actions uses the test's connection: their
commits release a savepoint, the test rolls everything back. Request it by name, or
for a whole module with `pytestmark = pytest.mark.usefixtures("crm")`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection
from sqlalchemy.orm import Session

import actions.common


@pytest.fixture
def crm(connection: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    @contextmanager
    def test_scope(url: str | None = None) -> Iterator[Session]:
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    monkeypatch.setattr(actions.common, "session_scope", test_scope)
    yield
