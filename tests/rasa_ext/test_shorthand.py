"""rasa_ext/shorthand.py: what chat shorthand is read as."""

from __future__ import annotations

import pytest

from rasa_ext.shorthand import SHORTHAND, normalise


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("u", "you"),
        ("ur", "your"),
        ("pls", "please"),
        ("PLZ", "please"),
        ("cant", "can"),
        ("wanna", "want"),
        ("thx", "thank"),
        ("adress", "address"),
        ("recieved", "receive"),
        ("cancle", "cancel"),
        ("smth", "something"),
    ],
)
def test_shorthand_is_spelled_out(typed: str, meant: str) -> None:
    assert normalise(typed) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("pleaseee", "please"), ("heyyy", "hey"), ("yesss", "yes"), ("plzzz", "please"), ("goood", "good")],
)
def test_stretched_words_are_shortened(typed: str, meant: str) -> None:
    assert normalise(typed) == meant


@pytest.mark.parametrize("word", ["order", "refund", "hello", "no", "y", "n", "1000", "#2207", "Sam"])
def test_standard_words_numbers_and_ambiguous_letters_are_left_alone(word: str) -> None:
    assert normalise(word) is None


def test_table_is_lowercase_and_never_maps_a_word_to_itself() -> None:
    assert all(k == k.lower() and v == v.lower() for k, v in SHORTHAND.items())
    assert not [k for k, v in SHORTHAND.items() if k == v]
    # A value that is itself a key would need two lookups to settle.
    assert not set(SHORTHAND.values()) & set(SHORTHAND)
