"""Reading a score or a "skip" from a customer's reply (the feedback and NPS forms).

A `rating` entity, else the one number or number word in the reply; "no",
"skip", "pass" and the like (or the deny intent) are a skip.
"""

from __future__ import annotations

import re
from typing import Any

# The value a skipped answer is stored as.
SKIPPED = "skipped"

_WORD_SCORES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
# "4 out of 5", "4/5", "4 of 5": the scale is not a second score.
_SCALE = re.compile(r"(?:\bout\s+of|\bof|/)\s*(?:\d+|five|ten)\b", re.IGNORECASE)
# Number words only count in a short reply ("four", "a solid four"): in a
# sentence, "one" is rarely a score ("this one was late").
_MAX_WORDS_FOR_NUMBER_WORDS = 3
_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3})(?![\d.,]\d)")
_WORD = re.compile(r"\b(" + "|".join(_WORD_SCORES) + r")\b", re.IGNORECASE)
# Matched against the reply without the punctuation around it: `^\W*(...)\W*$`
# backtracked quadratically on a long run of punctuation.
_SKIP = re.compile(
    r"no|nope|nah|no thanks?|no thank you|skip( it)?|pass|none|nothing|not now|"
    r"rather not|i'?d rather not|no comment|n/?a",
    re.IGNORECASE,
)
_EDGE_PUNCTUATION = re.compile(r"\W*+")


def to_score(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            return int(text)
        return _WORD_SCORES.get(text)
    return None


def parse_score(text: str | None, entities: list[dict[str, Any]] | None = None) -> int | None:
    """The one score in a reply: a `rating` entity, else a number or number word.

    Several different numbers ("3 or 4", "4 but delivery took 3 days") are not
    a score: better to ask again than to store the wrong one.
    """
    for entity in entities or []:
        if entity.get("entity") == "rating":
            score = to_score(entity.get("value"))
            if score is not None:
                return score
    if not text or text.startswith("/"):
        return None
    body = _SCALE.sub(" ", text)
    found = {int(n) for n in _NUMBER.findall(body)}
    if len(body.split()) <= _MAX_WORDS_FOR_NUMBER_WORDS:
        found |= {_WORD_SCORES[w.lower()] for w in _WORD.findall(body)}
    return found.pop() if len(found) == 1 else None


def is_skip(text: str | None, intent: str | None) -> bool:
    if intent == "deny":
        return True
    cleaned = (text or "").strip()
    return bool(cleaned) and (_skip_words(cleaned) or cleaned.lower() == SKIPPED)


def _skip_words(text: str) -> bool:
    start = _EDGE_PUNCTUATION.match(text).end()  # type: ignore[union-attr]  # \W* always matches
    end = len(text) - _EDGE_PUNCTUATION.match(text[::-1]).end()  # type: ignore[union-attr]
    core = text[start:end] if start < end else ""
    # A lone dash ("-", " -- ") is a skip too.
    return bool(_SKIP.fullmatch(core)) if core else "-" in text
