"""Staff passwords: argon2id hashes (argon2-cffi), checked in constant time."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes anything; a megabyte "password" is only a way to burn CPU

_default = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Checked when the account does not exist, so a wrong e-mail costs as long as a wrong password."""
    return _default.hash("not-a-real-password-0123456789")


class WeakPassword(ValueError):
    pass


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password can have at most {MAX_LENGTH} characters.")
    if not password.strip():
        raise WeakPassword("A password cannot be only spaces.")


def hash_password(password: str, *, hasher: PasswordHasher | None = None) -> str:
    check_strength(password)
    return (hasher or _default).hash(password)


def rehash(password: str) -> str:
    """Today's parameters for a password that was just verified (no strength rules: it is already theirs)."""
    return _default.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; the same work is done when there is no hash to check."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _default.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than today's: store a fresh one at sign-in."""
    try:
        return _default.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
