"""crm/db.py: SQLite engines in WAL mode; commits wait for the disk unless an engine is made not durable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from crm.db import make_engine


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
