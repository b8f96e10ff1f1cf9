"""Bearer keys for the shop's JSON API. The key is shown once; only its SHA-256 is stored.

A random 32-byte key needs no slow hash: nobody can guess it, and the digest
lets a request be matched with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import utcnow
from crm.models import ApiKey
from crm.services.audit import audit

PREFIX = "jo_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, *, name: str, actor: str) -> tuple[ApiKey, str]:
    """The stored row and the key itself, which is never stored."""
    name = name.strip()[:100]
    if not name:
        raise ValueError("give the key a name (which shop or system uses it)")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=_digest(key), prefix=key[:10])
    session.add(row)
    session.flush()
    audit(session, actor=actor, action="api_key.create", subject=f"api_key:{row.id}")
    return row, key


def find_api_key(session: Session, *, key: str) -> ApiKey | None:
    """The live key matching `key`, marked as used; None for unknown or revoked."""
    if not key.startswith(PREFIX) or len(key) > 100:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == _digest(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    return row


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_api_key(session: Session, *, key_id: int, actor: str) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(session, actor=actor, action="api_key.revoke", subject=f"api_key:{row.id}")
    return row
