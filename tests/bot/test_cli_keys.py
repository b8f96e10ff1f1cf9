"""`python -m bot keys ...`: API keys for the shop's JSON API."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli
from bot.settings import get_settings
from crm.models import ApiKey
from crm.services.api_keys import find_api_key


@pytest.fixture
def run(gateway_db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", gateway_db_url)
    get_settings.cache_clear()
    yield lambda *argv: cli.main(list(argv))
    get_settings.cache_clear()


def test_add_list_revoke(run, db: sessionmaker[Session], capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert run("keys", "add", "--name", "Warehouse system") == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    with db() as session:
        row = session.scalars(select(ApiKey)).one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert find_api_key(session, key=key) is not None
    assert run("keys", "list") == 0
    listing = capsys.readouterr().out
    assert "Warehouse system" in listing and "active" in listing and key not in listing
    assert run("keys", "revoke", str(row.id)) == 0
    with db() as session:
        assert find_api_key(session, key=key) is None
    assert run("keys", "revoke", "999") == 1
    assert run("keys", "add", "--name", "  ") == 1
