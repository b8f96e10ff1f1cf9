"""bot.channels.telegram.wire: message splitting, locales, shared numbers and reading updates."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.telegram import split_text, wire
from bot.intake.door import Intake


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- splitting -----------------------------------------------------------------------------


def test_a_short_text_is_one_piece() -> None:
    assert split_text("Your order has shipped.") == ["Your order has shipped."]
    assert split_text("   ") == []


def test_a_long_text_is_cut_at_paragraphs_first() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]


def test_without_paragraphs_it_cuts_at_a_sentence_then_a_space() -> None:
    sentence = ("This is a sentence. " * 300).strip()
    pieces = split_text(sentence)
    assert len(pieces) == 2
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == sentence
    words = " ".join(["word"] * 2000)
    pieces = split_text(words)
    assert all(len(p) <= 4096 for p in pieces) and " ".join(pieces) == words


def test_a_single_endless_word_is_cut_hard() -> None:
    pieces = split_text("x" * 10_000)
    assert [len(p) for p in pieces] == [4096, 4096, 1808]


def test_the_limit_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units
    pieces = split_text(text)
    assert all(utf16(p) <= 4096 for p in pieces)
    assert "".join(pieces) == text


@pytest.mark.parametrize("limit", [50, 100, 4096])
def test_nothing_is_lost_whatever_the_limit(limit: int) -> None:
    text = "Line one.\nLine two is longer! And a question? " * 40 + "\n\n" + "tail " * 30
    pieces = split_text(text, limit)
    assert all(0 < utf16(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


# -- small conversions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("en", "en"),
        ("en-gb", "en-GB"),
        ("pt-BR", "pt-BR"),
        ("DE", "de"),
        (None, "en"),
        ("zh-hans", "en"),
        ("", "en"),
    ],
)
def test_telegram_language_codes_become_locales(code: str | None, locale: str) -> None:
    assert wire.locale(code) == locale


@pytest.mark.parametrize(
    ("shared", "e164"),
    [
        ("447700900123", "+447700900123"),
        ("+447700900123", "+447700900123"),
        ("14155550123", "+14155550123"),
        ("07700 900123", "+447700900123"),
        ("not a number", None),
        ("", None),
    ],
)
def test_shared_numbers_are_read_as_e164(shared: str, e164: str | None) -> None:
    # The adapter puts Telegram's missing "+" back; the intake service normalises.
    assert Intake.phone(wire.international(shared)) == e164



@pytest.mark.parametrize("chat_id", [{}, "42", True, [1]])
def test_an_update_whose_chat_is_not_numbered_is_not_an_update(chat_id: Any) -> None:
    ada = {"id": 42, "is_bot": False, "first_name": "Ada"}
    message = {"message_id": 1, "date": 1, "chat": {"id": chat_id, "type": "private"}, "from": ada, "text": "hi"}
    assert wire.parse({"update_id": 1, "message": message}, None) is None  # type: ignore[arg-type]
    message["chat"] = {"id": 42, "type": "private"}
    assert wire.parse({"update_id": 1, "message": message}, None) is not None  # type: ignore[arg-type]
