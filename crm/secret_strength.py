"""How strong a secret we generate or accept must be in production: 32 random bytes.

A secret cannot prove it is random, but its length and alphabet bound what it
can hold: 43 URL-safe characters (`secrets.token_urlsafe(32)`) or 64 hex digits
carry 256 bits; a pasted word, a short hex string or one character repeated do not.
"""

from __future__ import annotations

import math
import string

MIN_BITS = 256
# Fewer distinct characters than this is a pattern, not randomness (64 random
# hex digits show about 16).
_MIN_DISTINCT = 10
HOW_TO_MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def estimated_bits(secret: str) -> float:
    """An upper bound on the randomness in `secret`: its length times the bits per character of its alphabet."""
    alphabet = 0
    for chars, size in (
        (string.ascii_lowercase, 26),
        (string.ascii_uppercase, 26),
        (string.digits, 10),
    ):
        if any(c in chars for c in secret):
            alphabet += size
    if any(not (c.isascii() and c.isalnum()) for c in secret):
        alphabet += 32  # the printable symbols
    return len(secret) * math.log2(alphabet) if alphabet > 1 else 0.0


def weakness(secret: str) -> str | None:
    """Why `secret` is not 32 random bytes' worth, or None if it could be."""
    if not secret.strip():
        return "it is not set"
    if estimated_bits(secret) < MIN_BITS:
        return f"it holds at most {estimated_bits(secret):.0f} bits (32 random bytes are {MIN_BITS})"
    if len(set(secret)) < _MIN_DISTINCT:
        return "it repeats a few characters instead of being random"
    return None
