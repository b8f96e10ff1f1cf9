from __future__ import annotations

import hashlib
import hmac

from bot.identity import (
    fingerprint,
    hash_session_token,
    new_session_token,
    session_token_well_formed,
    sign_customer_id,
    signature_valid,
)


def test_the_signature_is_the_hmac_the_shop_backend_computes() -> None:
    expected = hmac.new(b"s3cret", b"C001", hashlib.sha256).hexdigest()
    assert sign_customer_id("C001", "s3cret") == expected
    assert signature_valid("C001", expected, "s3cret")
    assert signature_valid("C001", expected.upper(), "s3cret")


def test_wrong_signatures_fail() -> None:
    good = sign_customer_id("C001", "s3cret")
    assert not signature_valid("C002", good, "s3cret")
    assert not signature_valid("C001", good, "other")
    assert not signature_valid("C001", good[:-1], "s3cret")
    assert not signature_valid("C001", "", "s3cret")
    assert not signature_valid("", good, "s3cret")


def test_without_a_secret_nobody_is_verified() -> None:
    assert not signature_valid("C001", sign_customer_id("C001", ""), "")


def test_session_tokens_are_random_long_and_stored_only_as_hashes() -> None:
    tokens = {new_session_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert session_token_well_formed(token) and len(token) == 43  # 256 bits
    assert hash_session_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert not session_token_well_formed(None)
    assert not session_token_well_formed("short")
    assert not session_token_well_formed(token + "!")


def test_fingerprints_correlate_without_revealing() -> None:
    assert fingerprint("C001") == fingerprint("C001") != fingerprint("C002")
    assert "C001" not in fingerprint("C001") and len(fingerprint("C001")) == 12
