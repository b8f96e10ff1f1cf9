"""Who is on the other end of a widget: signed shop identities and session tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def sign_customer_id(customer_id: str, secret: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256 of the customer id."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def signature_valid(customer_id: str, signature: str, secret: str) -> bool:
    # No secret configured means nobody can be verified this way: fail closed.
    if not secret or not customer_id or not signature:
        return False
    # Bytes: compare_digest raises TypeError on non-ASCII str, and the signature is the visitor's to choose.
    return hmac.compare_digest(sign_customer_id(customer_id, secret).encode(), signature.strip().lower().encode())


def new_session_token() -> str:
    """256 random bits, URL-safe; only its hash is stored."""
    return secrets.token_urlsafe(32)


def session_token_well_formed(token: str | None) -> bool:
    return token is not None and _SESSION_TOKEN.match(token) is not None


def hash_session_token(token: str) -> str:
    # The token has 256 bits of entropy, so a plain hash cannot be brute-forced back.
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(value: str) -> str:
    """A short hash that lets logs correlate a claimed id without revealing it."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]
