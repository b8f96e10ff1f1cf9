"""bot/intake/keywords.py: the SMS opt-out vocabulary, as the SMS channel reads it."""

from __future__ import annotations

import pytest

from bot.channels.sms import keyword_of
from bot.intake.keywords import CHANNEL, HELP_WORDS, START_WORDS, STOP_WORDS


def test_the_three_vocabularies_are_upper_case_and_never_overlap() -> None:
    words = [*STOP_WORDS, *START_WORDS, *HELP_WORDS]
    assert len(words) == len(set(words)) == len(STOP_WORDS) + len(START_WORDS) + len(HELP_WORDS)
    assert all(word == word.upper() and word.isalpha() for word in words)
    assert {"STOP", "UNSUBSCRIBE"} <= STOP_WORDS and "START" in START_WORDS and "HELP" in HELP_WORDS
    assert CHANNEL == "sms"


@pytest.mark.parametrize(
    ("words", "keyword"), [(STOP_WORDS, "stop"), (START_WORDS - {"YES"}, "start"), (HELP_WORDS, "help")]
)
def test_each_word_in_any_case_is_its_keyword(words: frozenset[str], keyword: str) -> None:
    for word in words:
        for typed in (word, word.lower(), f"  {word.title()} "):
            found = keyword_of(typed, opted_out=False)
            assert found is not None and found[0] == keyword, typed
