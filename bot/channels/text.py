"""Cutting a long reply into messages a channel can carry: one algorithm for every channel.

Each piece ends at the last paragraph break, else line break, else sentence
end, else space that fits - but never in the first half of the piece, so no
piece is a stub - and only mid-word for a "word" longer than half a piece (a
URL). `units` measures text as the platform counts it (SMS: characters;
Telegram: UTF-16 code units).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BOUNDARIES = (r"\n\s*\n", r"\n", r"[.!?…][\"')\]]*\s", r"\s")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, *, units: Callable[[str], int] = len) -> list[str]:
    """`text` (stripped) as pieces of at most `limit` units each; [] for blank text."""
    text = text.strip()
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        fits = _fitting(rest, limit, units)
        cut = _boundary(rest[: fits + 1], fits)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _fitting(text: str, limit: int, units: Callable[[str], int]) -> int:
    """How many characters of `text` fit in `limit` units (at least one)."""
    if units is len:
        return limit
    used = 0
    for index, char in enumerate(text):
        used += units(char)
        if used > limit:
            return max(index, 1)
    return len(text)


def _boundary(chunk: str, window: int) -> int:
    floor = window // 2
    for pattern in _BOUNDARIES:
        ends = [m.end() for m in re.finditer(pattern, chunk) if floor <= m.end() <= window]
        if ends:
            return ends[-1]
    return window
