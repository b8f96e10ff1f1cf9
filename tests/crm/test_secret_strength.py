"""crm.secret_strength: what 32 random bytes look like, and why anything else is refused."""

from __future__ import annotations

import secrets

import pytest

from crm.secret_strength import MIN_BITS, estimated_bits, weakness


def test_what_the_supervisor_makes_is_strong_enough() -> None:
    for _ in range(20):
        assert weakness(secrets.token_urlsafe(32)) is None
        assert weakness(secrets.token_hex(32)) is None


@pytest.mark.parametrize("blank", ["", "   "])
def test_an_unset_secret_says_so(blank: str) -> None:
    assert weakness(blank) == "it is not set"


@pytest.mark.parametrize("short", ["changeme", "correct horse battery staple", secrets.token_hex(16)])
def test_a_short_secret_says_how_many_bits_it_holds(short: str) -> None:
    reason = weakness(short)
    assert reason is not None and reason.startswith("it holds at most ")
    assert f"(32 random bytes are {MIN_BITS})" in reason


def test_a_long_pattern_is_not_randomness() -> None:
    assert weakness("ab" * 40) == "it repeats a few characters instead of being random"


def test_the_estimate_grows_with_length_and_alphabet() -> None:
    assert estimated_bits("aaaa") < estimated_bits("aaaaaaaa")
    assert estimated_bits("abcd") < estimated_bits("abCD") < estimated_bits("aB3!")
    assert estimated_bits("") == 0.0
