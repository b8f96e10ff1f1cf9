"""bot.staff.signin_guard as a unit: which bucket decides, and that guessing never locks out the real person."""

from __future__ import annotations

from bot.ratelimit import RateLimiter
from bot.staff.signin_guard import Decision, KnownAddresses, SignInGuard

ADMIN = "admin@shop.example"
ATTACKER = "203.0.113.9"
OFFICE = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock, *, burst: int = 2) -> SignInGuard:
    # One token a minute: what is spent stays spent for the length of a test.
    return SignInGuard(
        pair_limiter=RateLimiter(per_minute=1, burst=burst, clock=clock),
        ip_limiter=RateLimiter(per_minute=1, burst=burst, clock=clock),
        known=KnownAddresses(ttl_seconds=3600, clock=clock),
    )


def test_guessing_from_one_address_leaves_another_address_its_own_tries() -> None:
    g = guard(Clock())
    attempts = [g.check(email=ADMIN, ip=ATTACKER, device_id=None) for _ in range(3)]
    assert [a.allowed for a in attempts] == [True, True, False]
    assert attempts[-1].retry_after_seconds > 0
    assert g.check(email=ADMIN, ip=OFFICE, device_id=None) == Decision(True, "address")


def test_one_address_guessing_many_accounts_is_slowed_by_its_own_bucket() -> None:
    g = guard(Clock())
    assert g.check(email="a@shop.example", ip=ATTACKER, device_id=None).allowed
    assert g.check(email="b@shop.example", ip=ATTACKER, device_id=None).allowed
    refused = g.check(email="c@shop.example", ip=ATTACKER, device_id=None)
    assert refused.allowed is False and refused.scope == "ip"


def test_a_known_browser_has_a_bucket_of_its_own_even_at_a_busy_address() -> None:
    g = guard(Clock())
    while g.check(email=ADMIN, ip=ATTACKER, device_id=None).allowed:
        pass
    assert g.check(email=ADMIN, ip=ATTACKER, device_id="device-1") == Decision(True, "device")


def test_an_address_the_account_signed_in_from_before_skips_the_address_bucket_until_it_expires() -> None:
    clock = Clock()
    g = guard(clock)
    g.known.remember(ADMIN, OFFICE)
    for _ in range(2):
        g.ip_limiter.allow(OFFICE)  # someone else at the office spent the address's tries
    assert g.check(email=ADMIN, ip=OFFICE, device_id=None) == Decision(True, "known_address")
    clock.now += 3601
    assert not g.known.known(ADMIN, OFFICE)


def test_empty_buckets_refill_so_nobody_is_locked_out_for_good() -> None:
    clock = Clock()
    g = guard(clock, burst=1)
    assert g.check(email=ADMIN, ip=ATTACKER, device_id=None).allowed
    refused = g.check(email=ADMIN, ip=ATTACKER, device_id=None)
    assert refused.allowed is False and refused.retry_after_seconds == 60
    clock.now += refused.retry_after_seconds
    assert g.check(email=ADMIN, ip=ATTACKER, device_id=None).allowed


def test_known_addresses_are_bounded_oldest_first() -> None:
    known = KnownAddresses(ttl_seconds=3600, max_entries=2, clock=Clock())
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        known.remember(ADMIN, ip)
    assert [known.known(ADMIN, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [False, True, True]
