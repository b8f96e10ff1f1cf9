"""Who may try a staff password now: rate limits that slow guessing without
locking the real person out.

Buckets are per (account, address) and per address, never per account alone:
an attacker guessing from one address spends only their own buckets, so the
real staff member signing in from elsewhere is not refused. A browser that
has signed in to the account before (a signed `staff_device` cookie) has a
bucket of its own and skips the per-address one; so does an address this
account signed in from before. Empty buckets refill steadily, so an attacker
is slowed (the answer says how long to wait), never a person locked out.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bot.ratelimit import RateLimiter


@dataclass(frozen=True)
class Decision:
    allowed: bool
    scope: str  # "device", "known_address", "address" (which bucket decided)
    retry_after_seconds: int = 0


class KnownAddresses:
    """Addresses each account signed in from successfully, in this gateway's memory."""

    def __init__(
        self, *, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def remember(self, email: str, ip: str) -> None:
        key = (email, ip)
        self._seen.pop(key, None)
        self._seen[key] = self._clock() + self._ttl
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def known(self, email: str, ip: str) -> bool:
        expires = self._seen.get((email, ip))
        return expires is not None and expires > self._clock()


class SignInGuard:
    def __init__(self, *, pair_limiter: RateLimiter, ip_limiter: RateLimiter, known: KnownAddresses) -> None:
        self.pair_limiter = pair_limiter
        self.ip_limiter = ip_limiter
        self.known = known

    def check(self, *, email: str, ip: str, device_id: str | None) -> Decision:
        """Spend the buckets this attempt uses; Decision.allowed False means answer 429."""
        if device_id is not None:
            device_key = hashlib.sha256(device_id.encode()).hexdigest()[:16]
            return self._one(f"{email}\x00device:{device_key}", "device")
        if self.known.known(email, ip):
            return self._one(f"{email}\x00{ip}", "known_address")
        # Both are spent on every attempt: one address guessing many accounts,
        # and one address guessing one account, are both slowed down.
        pair_key = f"{email}\x00{ip}"
        ip_ok = self.ip_limiter.allow(ip)
        pair_ok = self.pair_limiter.allow(pair_key)
        if ip_ok and pair_ok:
            return Decision(True, "address")
        wait = max(self.ip_limiter.retry_after(ip), self.pair_limiter.retry_after(pair_key))
        return Decision(False, "ip" if not ip_ok else "account", math.ceil(wait))

    def _one(self, key: str, scope: str) -> Decision:
        if self.pair_limiter.allow(key):
            return Decision(True, scope)
        return Decision(False, scope, math.ceil(self.pair_limiter.retry_after(key)))
