"""Engine and session factory, created on first use, never at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from crm.settings import get_settings


def make_engine(url: str, *, busy_timeout: float = 30.0, durable: bool = True) -> Engine:
    """`busy_timeout`: how long a statement waits for a lock (SQLite) or runs (PostgreSQL).

    `durable=False`: a commit returns before it reaches the disk (SQLite's
    synchronous=NORMAL in WAL mode, PostgreSQL's synchronous_commit=off). It
    survives the process dying, not the machine losing power; the database is
    never corrupted, and the next durable commit makes it (and all before it)
    durable too. Only for writes something else makes good if a power cut
    loses them: the gateway's turn bookkeeping, which the recovery pass redoes
    (bot/recovery.py). Every other engine waits for the disk at each commit.
    """
    # Database errors quote their SQL parameters (customers' words, e-mails) in
    # exception messages, which end up in logs; nobody here wants that.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        timeout_ms = int(busy_timeout * 1000)
        # A write waiting on a row lock gives up in time for the customer to hear so
        # (added to any options the URL already carries, such as a search_path).
        options = f"{parsed.query.get('options', '')} -c lock_timeout={timeout_ms}"
        if not durable:
            options += " -c synchronous_commit=off"
        return create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            pool_timeout=busy_timeout,
            connect_args={"options": options.strip()} if parsed.get_backend_name() == "postgresql" else {},
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout}, hide_parameters=True)
    synchronous = "FULL" if durable else "NORMAL"

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cur = dbapi_conn.cursor()
        # WAL lets the gateway and the action server read while the other writes.
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit waits for its fsync of the WAL (SQLite's default, said out loud).
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    return engine


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    return make_engine(url or get_settings().database_url)


@lru_cache
def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def expire_loaded(session: Session, model: type, key: Any) -> None:
    """A row an UPDATE statement changed: a copy this session already holds reloads on next use
    (the statements that call this skip SQLAlchemy's own synchronisation, which costs a query)."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        session.expire(loaded)
