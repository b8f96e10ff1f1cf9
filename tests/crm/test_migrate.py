"""The Alembic migrations (crm/migrations) and crm.migrate."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from crm import migrate
from crm.db import make_engine
from crm.models import Base
from crm.settings import PROJECT_ROOT, get_settings


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert _diff(engine) == []


def test_upgrade_downgrade_upgrade_round_trip(empty_db_url: str) -> None:
    models = set(Base.metadata.tables)
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) == models | {"alembic_version"}
    migrate.downgrade(empty_db_url)
    assert _tables(empty_db_url) == {"alembic_version"}
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(Config(str(PROJECT_ROOT / "alembic.ini"))).get_current_head()
    assert versions == [head]


def test_upgrade_without_url_uses_the_settings(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "database_url", empty_db_url)
    migrate.upgrade()
    assert "customers" in _tables(empty_db_url)


def test_alembic_command_line_takes_the_url_from_x_argument(empty_db_url: str, tmp_path) -> None:
    # Run from elsewhere to prove alembic.ini does not depend on the current directory.
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(PROJECT_ROOT / "alembic.ini"), "-x", f"url={empty_db_url}", "upgrade", "head"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": "sqlite:///" + str(tmp_path / "not-this-one.db")},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "customers" in _tables(empty_db_url)
    assert not (tmp_path / "not-this-one.db").exists()


def test_alembic_config_points_at_the_project_migrations() -> None:
    config = migrate.alembic_config("postgresql+psycopg://u@h/db?options=-csearch_path%3Dt_x")
    assert config.get_main_option("script_location") == str(PROJECT_ROOT / "crm" / "migrations")
    # The %-escape survives ConfigParser interpolation.
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://u@h/db?options=-csearch_path%3Dt_x"
