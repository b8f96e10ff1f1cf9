"""Database fixtures shared by every test package.

- `db_url`: a database migrated to the newest schema, once per test session.
  SQLite in a temporary file; with TEST_DATABASE_URL set (e.g.
  postgresql+psycopg://postgres@127.0.0.1:5432/test) every test using it runs
  a second time on a PostgreSQL schema of its own, created fresh and dropped
  at the end, so test runs happening at the
  same time on the same database never see each other. The URL carries the
  schema (`?options=-csearch_path=...`), so any engine made from it works.
- `engine`: an Engine on `db_url`.
- `connection` / `session`: per test, inside a transaction that is rolled back
  afterwards (SQLAlchemy's "join_transaction_mode='create_savepoint'" recipe):
  code under test may commit freely. Code that opens its own sessions (an app
  under test) should be given `connection` to bind to, or SQLite will make it
  wait for this test's write lock.
- `empty_db_url`: a database of its own with no tables, for tests that migrate
  or commit for real.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm.db import get_engine, make_engine
from crm.migrate import upgrade


# Every database test runs on SQLite; with TEST_DATABASE_URL it runs on that
# database as well (CI points it at PostgreSQL).
BACKENDS = ["sqlite"] + (["server"] if os.environ.get("TEST_DATABASE_URL") else [])


@contextmanager
def _scratch_database(directory: Path, backend: str = "sqlite") -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if backend == "sqlite" or not base:
        yield f"sqlite:///{directory / 'crm.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        yield rendered
    finally:
        # Engines the code under test cached for this URL must let go first.
        get_engine(rendered).dispose()
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _real_sqlite_transactions(engine: Engine) -> None:
    # pysqlite opens transactions lazily and behind SQLAlchemy's back, which
    # breaks SAVEPOINT and so the roll-back-every-test recipe; this is
    # SQLAlchemy's documented fix.
    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")


def make_test_engine(url: str) -> Engine:
    """An engine on `url` whose transactions can be nested and rolled back on SQLite too."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        _real_sqlite_transactions(engine)
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _scratch_database(tmp_path_factory.mktemp("db"), request.param) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_test_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with _scratch_database(tmp_path, request.param) as url:
        yield url
