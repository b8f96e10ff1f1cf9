"""actions.scores: a score or a skip read from a customer's reply, in linear time."""

from __future__ import annotations

import pytest

from actions.scores import is_skip, parse_score
from tests.timing import assert_linear

pytestmark = pytest.mark.usefixtures("crm")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5),
        ("five stars!!", 5),
        ("3 or 4", None),
        ("4 but delivery took 3 days", None),
        ("one of the best chats ever", None),
        ("4.5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_score(text: str | None, expected: int | None) -> None:
    assert parse_score(text) == expected


def test_skip_words_survive_punctuation_and_take_linear_time() -> None:
    assert is_skip("  -- no thanks!! ", None) and is_skip("—", None) is False and is_skip(" - ", None)
    assert is_skip("N/A.", None) and not is_skip("no, it was great", None)
    # `^\W*(...)\W*$` backtracked quadratically on a long run of punctuation.
    assert_linear(lambda text: is_skip(text, None), [lambda n: "-" * n + "x", lambda n: "!" * n + "no"])
