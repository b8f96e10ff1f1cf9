"""crm.db: engines that wait for locks, never quote parameters, WAL mode with commits that wait for the disk unless an engine is made not durable, and units of work that commit or roll back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from crm.db import get_engine, get_sessionmaker, make_engine, session_scope


def test_a_sqlite_engine_makes_its_folder_and_sets_wal_foreign_keys_and_the_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'crm.db'}", busy_timeout=2.5)
    try:
        with engine.connect() as conn:
            names = ("journal_mode", "foreign_keys", "busy_timeout")
            pragmas = [conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names]
        assert pragmas == ["wal", 1, 2500]
        assert (tmp_path / "new").is_dir()
    finally:
        engine.dispose()


def test_a_server_engine_gives_up_on_a_row_lock_in_time(empty_db_url: str) -> None:
    if not empty_db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite waits with busy_timeout (above)")
    engine = make_engine(empty_db_url, busy_timeout=1.5)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "1500ms"
            # The URL's own options (the test schema's search_path) are kept.
            assert conn.exec_driver_sql("SHOW search_path").scalar() in empty_db_url
    finally:
        engine.dispose()


def test_errors_do_not_list_the_parameters(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE people (email VARCHAR(100) UNIQUE)"))
            conn.execute(text("INSERT INTO people VALUES (:e)"), {"e": "amelia@example.com"})
        with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
            conn.execute(text("INSERT INTO people VALUES (:e)"), {"e": "amelia@example.com"})
        # SQLAlchemy's parameter list is hidden. (PostgreSQL's own DETAIL line still names a
        # duplicate key's value: that is the server's text, not the parameters.)
        assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)
        assert "'e': 'amelia@example.com'" not in str(raised.value)
    finally:
        engine.dispose()


def test_one_engine_and_sessionmaker_per_url(empty_db_url: str) -> None:
    assert get_engine(empty_db_url) is get_engine(empty_db_url)
    assert get_sessionmaker(empty_db_url) is get_sessionmaker(empty_db_url)
    assert get_sessionmaker(empty_db_url).kw["bind"] is get_engine(empty_db_url)


def test_a_unit_of_work_commits_on_success_and_rolls_back_on_error(empty_db_url: str) -> None:
    with session_scope(empty_db_url) as session:
        session.execute(text("CREATE TABLE notes (body VARCHAR(20))"))
        session.execute(text("INSERT INTO notes VALUES ('kept')"))
    with pytest.raises(RuntimeError), session_scope(empty_db_url) as session:
        session.execute(text("INSERT INTO notes VALUES ('lost')"))
        raise RuntimeError("the action failed")
    with session_scope(empty_db_url) as session:
        assert session.scalars(text("SELECT body FROM notes")).all() == ["kept"]


def _pragma(url: str, name: str, **options: object) -> object:
    engine = make_engine(url, **options)  # type: ignore[arg-type]
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"PRAGMA {name}")).scalar()
    finally:
        engine.dispose()


def test_commits_wait_for_the_disk_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert _pragma(url, "journal_mode") == "wal"
    assert _pragma(url, "synchronous") == 2  # FULL: every commit is fsynced
    assert _pragma(url, "foreign_keys") == 1


def test_a_not_durable_engine_skips_the_fsync_per_commit_but_keeps_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    assert _pragma(url, "synchronous", durable=False) == 1  # NORMAL: synced at checkpoints
    assert _pragma(url, "journal_mode", durable=False) == "wal"
    assert _pragma(url, "foreign_keys", durable=False) == 1


def test_the_same_on_every_backend(empty_db_url: str) -> None:
    """PostgreSQL (TEST_DATABASE_URL): synchronous_commit is off only on a not-durable engine."""
    if not empty_db_url.startswith("postgresql"):
        assert _pragma(empty_db_url, "synchronous", durable=False) == 1
        return
    for durable, expected in ((True, "on"), (False, "off")):
        engine = make_engine(empty_db_url, durable=durable)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SHOW synchronous_commit")).scalar() == expected
        finally:
            engine.dispose()
