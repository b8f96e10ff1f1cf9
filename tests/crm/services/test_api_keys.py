"""crm.services.api_keys: shop API keys shown once, stored as a digest, revocable and audited."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import ApiKey, AuditEntry
from crm.services.api_keys import PREFIX, create_api_key, find_api_key, list_api_keys, revoke_api_key


def audit_trail(session: Session) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.subject) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_new_key_is_returned_once_and_only_its_digest_is_stored(session: Session) -> None:
    row, key = create_api_key(session, name="  Shopify store  ", actor="staff:1")
    assert key.startswith(PREFIX) and len(key) > 40
    assert (row.name, row.prefix, row.key_hash) == ("Shopify store", key[:10], hashlib.sha256(key.encode()).hexdigest())
    assert key not in {row.name, row.prefix, row.key_hash}
    assert audit_trail(session) == [("staff:1", "api_key.create", f"api_key:{row.id}")]
    other, other_key = create_api_key(session, name="x" * 150, actor="staff:1")
    assert other_key != key and len(other.name) == 100
    assert list_api_keys(session) == [row, other]


def test_a_key_needs_a_name(session: Session) -> None:
    with pytest.raises(ValueError, match="give the key a name"):
        create_api_key(session, name="   ", actor="staff:1")
    assert session.scalars(select(ApiKey)).all() == []


def test_the_right_key_is_found_and_marked_as_used(session: Session) -> None:
    row, key = create_api_key(session, name="WooCommerce", actor="staff:1")
    assert row.last_used_at is None
    assert find_api_key(session, key=key) is row
    assert row.last_used_at is not None
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), key[len(PREFIX):], "", PREFIX + "x" * 200):
        assert find_api_key(session, key=wrong) is None


def test_a_revoked_key_is_refused_and_revoking_twice_audits_once(session: Session) -> None:
    row, key = create_api_key(session, name="Old shop", actor="staff:1")
    assert revoke_api_key(session, key_id=row.id, actor="staff:2") is row
    revoked_at = row.revoked_at
    assert revoked_at is not None
    assert revoke_api_key(session, key_id=row.id, actor="staff:2") is row and row.revoked_at == revoked_at
    assert find_api_key(session, key=key) is None
    assert revoke_api_key(session, key_id=row.id + 1000, actor="staff:2") is None
    assert [a for _, a, _ in audit_trail(session)] == ["api_key.create", "api_key.revoke"]
