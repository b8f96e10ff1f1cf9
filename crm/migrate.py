"""Bring a database to the newest schema, from code (make run, tests, gateway)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from crm.settings import PROJECT_ROOT

ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    # Absolute, so migrating works whatever the current directory is.
    config.set_main_option("script_location", str(PROJECT_ROOT / "crm" / "migrations"))
    config.attributes["configure_logger"] = False
    if url:
        # ConfigParser treats "%" as interpolation; URLs carry %-escapes.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str | None = None, *, revision: str = "head") -> None:
    """`alembic upgrade head` on `url` (default: the configured database)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, *, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
