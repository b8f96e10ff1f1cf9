"""bot.channels.text: one way to cut a long reply into the pieces a channel can carry."""

from __future__ import annotations

import pytest

from bot.channels.text import split_text, utf16_units


def test_blank_text_is_no_pieces_and_short_text_one() -> None:
    assert split_text("  \n ", 10) == []
    assert split_text("  Hello.  ", 10) == ["Hello."]


def test_a_paragraph_break_beats_a_line_break_beats_a_sentence_end_beats_a_space() -> None:
    assert split_text("aaaa bbbb.\n\ncc", 12) == ["aaaa bbbb.", "cc"]
    assert split_text("aaaa bbbb.\ncc dd", 12) == ["aaaa bbbb.", "cc dd"]
    # A sentence end in the second half of the piece wins over a later space.
    assert split_text("Aaaa. Bbbb cc dd", 12) == ["Aaaa.", "Bbbb cc dd"]
    assert split_text("Aaaa bbbb cc dd", 12) == ["Aaaa bbbb", "cc dd"]


def test_no_piece_is_a_stub_a_break_in_the_first_half_is_ignored() -> None:
    # The only paragraph break comes after 2 of 20 characters: cut at a space instead.
    pieces = split_text("ab\n\n" + "word " * 10, 20)
    assert len(pieces[0]) > 10
    assert all(len(p) <= 20 for p in pieces)


def test_a_word_longer_than_a_piece_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@pytest.mark.parametrize("limit", [7, 16, 50])
def test_units_measure_text_as_the_platform_counts_it(limit: int) -> None:
    text = "Order 😀 shipped. " * 12
    pieces = split_text(text, limit, units=utf16_units)
    assert all(0 < utf16_units(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_utf16_units_count_an_emoji_as_two() -> None:
    assert utf16_units("ab") == 2
    assert utf16_units("😀") == 2
