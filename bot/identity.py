"""Who is on the other end of a widget: signed shop identities and session tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import GatewaySettings

_SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_EXPIRES = re.compile(r"^[0-9]{1,12}$")


def sign_customer_id(customer_id: str, secret: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256 of the customer id."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def signature_valid(customer_id: str, signature: str, secret: str) -> bool:
    # No secret configured means nobody can be verified this way: fail closed.
    if not secret or not customer_id or not signature:
        return False
    # Bytes: compare_digest raises TypeError on non-ASCII str, and the signature is the visitor's to choose.
    return hmac.compare_digest(sign_customer_id(customer_id, secret).encode(), signature.strip().lower().encode())


def sign_customer_identity(customer_id: str, expires_unix: int, secret: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256 of "<customer_id>:<expires_unix>"."""
    message = f"{customer_id}:{expires_unix}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_identity(
    customer_id: str | None,
    expires: str | None,
    signature: str | None,
    *,
    secret: str,
    now: float,
    max_ttl_seconds: int,
    allow_unexpiring: bool,
) -> str:
    """"ok", or why a signed identity is refused: "bad_signature", "expired", "too_long_lived",
    or "unexpiring" (the old form, without an expiry, which the shop has not opted in to)."""
    if not secret or not customer_id or not signature or len(customer_id) > 64 or len(signature) > 128:
        return "bad_signature"
    given = signature.strip().lower().encode("utf-8", "replace")
    if not expires:
        # Bytes, so a non-ASCII signature is a mismatch rather than a TypeError.
        legacy = sign_customer_id(customer_id, secret).encode()
        if not hmac.compare_digest(legacy, given):
            return "bad_signature"
        return "ok" if allow_unexpiring else "unexpiring"
    if not _EXPIRES.match(expires):
        return "bad_signature"
    expected = sign_customer_identity(customer_id, int(expires), secret).encode()
    if not hmac.compare_digest(expected, given):
        return "bad_signature"
    if int(expires) <= now:
        return "expired"
    if int(expires) > now + max_ttl_seconds:
        return "too_long_lived"
    return "ok"


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


@dataclass(frozen=True)
class IdentityPolicy:
    """How a signed shop identity is checked: the widget's, and `GET /telegram/link`'s."""

    secret: str
    max_ttl_seconds: int = 24 * 3600
    allow_unexpiring: bool = False

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> IdentityPolicy:
        return cls(
            secret=settings.widget_identity_secret.get_secret_value(),
            max_ttl_seconds=settings.widget_identity_max_ttl_seconds,
            allow_unexpiring=settings.widget_identity_allow_unexpiring,
        )

    def check(
        self, customer_id: str | None, expires: str | None, signature: str | None, *, now: float | None = None
    ) -> str:
        return check_identity(
            customer_id,
            expires,
            signature,
            secret=self.secret,
            now=time.time() if now is None else now,
            max_ttl_seconds=self.max_ttl_seconds,
            allow_unexpiring=self.allow_unexpiring,
        )
