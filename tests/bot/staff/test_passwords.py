"""bot.staff.passwords: argon2id hashes, checks, rehash and weak passwords."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.staff import passwords


def test_passwords_are_argon2id_and_checked() -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    hashed = passwords.hash_password("a long enough password", hasher=cheap)
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "a long enough password")
    assert not passwords.verify_password(hashed, "a long enough passwort")
    assert not passwords.verify_password(None, "a long enough password")
    assert not passwords.verify_password("not a hash", "a long enough password")
    assert passwords.needs_rehash(hashed)  # weaker than today's parameters
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password("short")
    with pytest.raises(passwords.WeakPassword):
        passwords.hash_password(" " * 20)
