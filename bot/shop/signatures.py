"""HMAC-SHA256 signatures as the shop platforms send them: base64 of the raw body's digest."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def valid(secret: str, body: bytes, header: str | None) -> bool:
    """Fail closed: no secret configured or no header is never valid."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())
