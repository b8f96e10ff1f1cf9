"""bot.staff.canned: canned replies from the owner's file, re-read when it changes, never blocking a reply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.staff.canned import DEFAULTS, CannedReply, load_canned


def write(path: Path, text: str, mtime_ns: int) -> Path:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_the_shipped_file_is_valid_and_read() -> None:
    shipped = load_canned(Path(__file__).resolve().parents[3] / "canned_replies.yml")
    assert shipped.source.endswith("canned_replies.yml") and shipped.replies != DEFAULTS
    assert "Refund started" in [r.title for r in shipped.replies]


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "canned.yml", "replies:\n  - title: Hi\n    text: Hello there\n", 1_000_000_000)
    first = load_canned(path)
    assert (first.replies, first.source) == ((CannedReply(title="Hi", text="Hello there"),), str(path))
    write(path, "replies:\n  - title: Bye\n    text: Goodbye\n", 2_000_000_000)
    assert [r.title for r in load_canned(path).replies] == ["Bye"]


@pytest.mark.parametrize(
    "content",
    [
        "replies: [oops",  # not YAML
        "replies:\n  - title: Hi\n",  # no text
        "replies:\n  - title: ''\n    text: x\n",  # empty title
        f"replies:\n  - title: {'x' * 61}\n    text: x\n",  # title too long
        "replies:\n  - title: Hi\n    text: x\n    colour: red\n",  # unknown field
        "other: 1\n",
    ],
)
def test_an_unreadable_file_offers_the_defaults(tmp_path: Path, content: str) -> None:
    loaded = load_canned(write(tmp_path / "bad.yml", content, 3_000_000_000))
    assert (loaded.replies, loaded.source) == (DEFAULTS, "defaults")


def test_no_file_or_an_empty_one_offers_the_defaults(tmp_path: Path) -> None:
    assert load_canned(tmp_path / "absent.yml").replies == DEFAULTS
    empty = load_canned(write(tmp_path / "empty.yml", "replies: []\n", 4_000_000_000))
    assert empty.replies == DEFAULTS and empty.source == str(tmp_path / "empty.yml")
