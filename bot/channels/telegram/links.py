"""Deep links for website customers: a signed, expiring token in t.me/<bot>?start=<token>."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

# Telegram allows 64 characters of A-Z a-z 0-9 _ - in the start parameter:
# 48 bytes of base64url. 4 hold the expiry and 12 the MAC, 32 are left for the id.
_LINK_MAC_BYTES = 12
_LINK_MAX_ID_BYTES = 32
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_LINK_CONTEXT = b"telegram-link/v1\x00"


class LinkTokenError(ValueError):
    """A deep-link token that does not verify: `expired` tells the two cases apart."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _link_mac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), _LINK_CONTEXT + body, hashlib.sha256).digest()[:_LINK_MAC_BYTES]


def link_token(customer_external_id: str, *, secret: str, expires_at: datetime) -> str:
    """A start parameter proving, until `expires_at`, that the shop vouches for this customer.

    ValueError without a secret, or for an id longer than 32 bytes (it would not fit in 64 characters).
    """
    if not secret:
        raise ValueError("no link secret configured")
    raw_id = customer_external_id.encode()
    if not raw_id or len(raw_id) > _LINK_MAX_ID_BYTES:
        raise ValueError("customer id does not fit in a Telegram start parameter")
    body = struct.pack(">I", int(expires_at.timestamp())) + raw_id
    return base64.urlsafe_b64encode(_link_mac(secret, body) + body).rstrip(b"=").decode()


def read_link_token(token: str, *, secret: str, now: datetime) -> str:
    """The customer external id a valid token names; LinkTokenError otherwise."""
    if not secret or not _LINK_TOKEN.match(token):
        raise LinkTokenError(expired=False)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise LinkTokenError(expired=False) from None
    mac, body = raw[:_LINK_MAC_BYTES], raw[_LINK_MAC_BYTES:]
    if len(body) < 5 or not hmac.compare_digest(mac, _link_mac(secret, body)):
        raise LinkTokenError(expired=False)
    (expires,) = struct.unpack(">I", body[:4])
    if now.timestamp() >= expires:
        raise LinkTokenError(expired=True)
    try:
        return body[4:].decode()
    except UnicodeDecodeError:  # pragma: no cover - only a MAC-valid token gets here
        raise LinkTokenError(expired=False) from None


@dataclass(frozen=True)
class DeepLink:
    url: str
    expires_at: datetime


def make_deep_link(
    username: str, customer_external_id: str, *, secret: str, ttl: timedelta, now: datetime
) -> DeepLink | None:
    """A t.me link for this customer, valid for `ttl`; None without a secret or the bot's username.

    ValueError for a customer id too long to fit in a start parameter.
    """
    if not secret or not username:
        return None
    expires_at = (now + ttl).replace(microsecond=0)
    token = link_token(customer_external_id, secret=secret, expires_at=expires_at)
    return DeepLink(url=f"https://t.me/{username}?start={token}", expires_at=expires_at)
