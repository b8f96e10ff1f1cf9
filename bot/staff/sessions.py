"""Staff sign-in sessions: a signed, expiring cookie, and CSRF tokens bound to it.

The cookie holds the staff id, a random session id, the expiry and a
fingerprint of the password hash, signed with HMAC-SHA256 under
STAFF_SESSION_SECRET. Nothing is stored server-side, so every gateway sharing
the secret accepts it; each request still loads the account, so a
deactivated account is out at once, and a new password signs out every
session made with the old one. Signing out also remembers the session id
until it would have expired (in this process: another gateway accepts it
until then; the cookie itself is deleted from the browser).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "staff_login_csrf"
# Set after a successful sign-in: this browser has signed in to this account
# before, so guesses from elsewhere (or from the same address) never stand in its way.
DEVICE_COOKIE = "staff_device"
DEVICE_LIFETIME_SECONDS = 90 * 24 * 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class StaffSession:
    session_id: str
    staff_id: int
    expires_at: float
    password_fingerprint: str


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _account_tag(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(
        self, secret: str, *, lifetime_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the staff session secret is too short to sign anything with")
        root = secret.encode()
        # Separate keys, so a CSRF token can never pass for a session or the other way round.
        self._session_key = hmac.new(root, b"staff-session", hashlib.sha256).digest()
        self._csrf_key = hmac.new(root, b"staff-csrf", hashlib.sha256).digest()
        self._device_key = hmac.new(root, b"staff-device", hashlib.sha256).digest()
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._revoked: dict[str, float] = {}

    @property
    def lifetime_seconds(self) -> float:
        return self._lifetime

    def issue(self, *, staff_id: int, password_hash: str) -> str:
        payload = {
            "sid": secrets.token_urlsafe(16),
            "uid": staff_id,
            "exp": int(self._clock() + self._lifetime),
            "pwd": password_fingerprint(password_hash),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def read(self, token: str | None) -> StaffSession | None:
        """The session in a cookie value, or None if it is forged, malformed, expired or signed out."""
        if not token or len(token) > 512 or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        if not hmac.compare_digest(self._sign(body).encode(), signature.encode()):
            return None
        try:
            payload = json.loads(_unb64(body))
            session = StaffSession(
                session_id=str(payload["sid"]),
                staff_id=int(payload["uid"]),
                expires_at=float(payload["exp"]),
                password_fingerprint=str(payload["pwd"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = self._clock()
        if session.expires_at <= now or session.session_id in self._revoked:
            return None
        return session

    def revoke(self, session: StaffSession) -> None:
        now = self._clock()
        self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > now}
        self._revoked[session.session_id] = session.expires_at

    def csrf_token(self, session: StaffSession) -> str:
        return hmac.new(self._csrf_key, session.session_id.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, session: StaffSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session).encode(), (token or "").encode())

    def device_token(self, *, email: str) -> str:
        """A known-good-device mark for the account signed in with `email`."""
        payload = {
            "did": secrets.token_urlsafe(12),
            "acct": _account_tag(email),
            "exp": int(self._clock() + DEVICE_LIFETIME_SECONDS),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._device_sign(body)}"

    def device_id(self, token: str | None, *, email: str) -> str | None:
        """The device's id if `token` marks this browser as known-good for `email`, else None."""
        if not token or len(token) > 256 or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        if not hmac.compare_digest(self._device_sign(body).encode(), signature.encode("utf-8", "replace")):
            return None
        try:
            payload = json.loads(_unb64(body))
            device, account, expires = str(payload["did"]), str(payload["acct"]), float(payload["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= self._clock() or not hmac.compare_digest(account, _account_tag(email)):
            return None
        return device

    def _device_sign(self, body: str) -> str:
        return _b64(hmac.new(self._device_key, body.encode(), hashlib.sha256).digest())

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._session_key, body.encode(), hashlib.sha256).digest())


def new_login_csrf() -> str:
    """Sign-in happens before there is a session: a random value in a cookie and in the form."""
    return secrets.token_urlsafe(24)


def login_csrf_valid(cookie: str | None, field: str | None) -> bool:
    # Bytes: compare_digest raises TypeError on non-ASCII str, and both values come from the client.
    return bool(cookie) and bool(field) and hmac.compare_digest((cookie or "").encode(), (field or "").encode())
