"""crm.services.verification_limits: failed verifications counted per order, e-mail and client, as hashes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.clock import as_utc
from crm.models import VerificationFailure
from crm.services import verification_limits as limits
from crm.settings import CRMSettings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
SETTINGS = CRMSettings(  # type: ignore[call-arg]
    _env_file=None, verification_window_minutes=15, verification_max_failures_per_order=2,
    verification_max_failures_per_email=3, verification_max_failures_per_client=4,
)
CLIENT = limits.client_fingerprint("ip:203.0.113.9")


def fail(session: Session, attempt: limits.Attempt, minutes_ago: float) -> None:
    limits.record_failure(session, attempt=attempt, settings=SETTINGS, now=NOW - timedelta(minutes=minutes_ago))


def test_keys_are_hashes_that_name_neither_the_value_nor_the_kind() -> None:
    key = limits.limit_key("email", " Amelia@Example.com ")
    assert key == limits.limit_key("email", "amelia@example.com") != limits.limit_key("order", "amelia@example.com")
    assert len(key) == 64 and "amelia" not in key
    assert CLIENT.startswith("c1:") and "203.0.113.9" not in CLIENT
    assert CLIENT == limits.client_fingerprint("ip:203.0.113.9") != limits.client_fingerprint("ip:203.0.113.10")


def test_only_the_values_given_are_counted(session: Session) -> None:
    fail(session, limits.Attempt(order_number="1043", email=None, client=""), 1)
    stored = session.scalars(select(VerificationFailure.key)).all()
    assert stored == [limits.limit_key("order", "1043")]


def test_reaching_a_limit_pauses_until_the_oldest_counted_failure_leaves_the_window(session: Session) -> None:
    attempt = limits.Attempt(order_number="1043", email="amelia@example.com", client=CLIENT)
    fail(session, attempt, 20)  # outside the window: not counted
    fail(session, attempt, 10)
    assert limits.locked_until(session, attempt=attempt, settings=SETTINGS, now=NOW) is None
    fail(session, attempt, 4)  # the order number's second failure: its limit
    until = limits.locked_until(session, attempt=attempt, settings=SETTINGS, now=NOW)
    assert until is not None and as_utc(until) == NOW + timedelta(minutes=5)
    assert limits.minutes_until(until, NOW) == 5
    # Another order number from the same e-mail and client is still open (3 and 4 allowed).
    other = limits.Attempt(order_number="2001", email="amelia@example.com", client=CLIENT)
    assert limits.locked_until(session, attempt=other, settings=SETTINGS, now=NOW) is None
    assert limits.locked_until(session, attempt=attempt, settings=SETTINGS, now=NOW + timedelta(minutes=6)) is None


def test_minutes_until_rounds_up_and_is_never_zero() -> None:
    assert limits.minutes_until(NOW + timedelta(seconds=61), NOW) == 2
    assert limits.minutes_until(NOW, NOW) == 1


def test_one_verification_handoff_per_subject_and_window(session: Session) -> None:
    subjects = [("order", "1043"), ("client", CLIENT)]
    assert limits.claim_handoff(session, subjects=subjects, settings=SETTINGS, now=NOW) is True
    assert limits.claim_handoff(session, subjects=[("client", CLIENT)], settings=SETTINGS, now=NOW) is False
    assert limits.claim_handoff(session, subjects=[("order", "2001")], settings=SETTINGS, now=NOW) is True
    later = NOW + timedelta(minutes=16)
    assert limits.claim_handoff(session, subjects=subjects, settings=SETTINGS, now=later) is True
    assert limits.claim_handoff(session, subjects=[("order", "")], settings=SETTINGS, now=NOW) is True


def test_erasure_forgets_the_failures_and_handoff_claims_of_the_values_given(session: Session) -> None:
    mine = limits.Attempt(order_number="1043", email="amelia@example.com", client=None)
    theirs = limits.Attempt(order_number="2001", email="oliver@example.com", client=None)
    fail(session, mine, 1)
    fail(session, theirs, 1)
    limits.claim_handoff(session, subjects=[("order", "1043")], settings=SETTINGS, now=NOW)
    assert limits.forget(session, values=[("order", "1043"), ("email", "amelia@example.com")]) == 3
    assert limits.forget(session, values=[("order", "")]) == 0
    assert sorted(session.scalars(select(VerificationFailure.key))) == sorted(
        [limits.limit_key("order", "2001"), limits.limit_key("email", "oliver@example.com")])
