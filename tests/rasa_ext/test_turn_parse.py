"""rasa_ext/turn_parse.py: the tracker store hands the turn's parse to the channel, for that conversation only.

The module imports nothing from Rasa, so it is tested here with plain stand-ins for a tracker.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rasa_ext import turn_parse


@dataclass
class Latest:
    parse_data: dict[str, Any]


@dataclass
class Tracker:
    sender_id: str
    latest_message: Latest | None


def test_the_store_notes_the_parse_of_the_conversation_being_answered() -> None:
    parse = {"intent": {"name": "track_order", "confidence": 0.93}, "text": "where is it"}
    with turn_parse.collect("c-1") as seen:
        turn_parse.saved(Tracker("c-1", Latest(parse)))
    assert seen.saved and seen.parse_data == parse


def test_another_conversations_save_is_not_taken_for_this_turns() -> None:
    with turn_parse.collect("c-1") as seen:
        turn_parse.saved(Tracker("c-2", Latest({"intent": {"name": "greet"}})))
    assert not seen.saved and seen.parse_data is None


def test_a_save_outside_a_turn_is_ignored_and_a_turn_without_a_save_stays_unseen() -> None:
    turn_parse.saved(Tracker("c-1", Latest({"intent": {"name": "greet"}})))  # no turn open: nothing to note
    with turn_parse.collect("c-1") as seen:
        pass
    assert not seen.saved and seen.parse_data is None


def test_a_tracker_without_a_latest_message_is_saved_with_no_parse() -> None:
    with turn_parse.collect("c-1") as seen:
        turn_parse.saved(Tracker("c-1", None))
    assert seen.saved and seen.parse_data is None


def test_two_turns_at_once_each_see_their_own_parse() -> None:
    async def turn(sender: str, intent: str) -> dict[str, Any] | None:
        with turn_parse.collect(sender) as seen:
            await asyncio.sleep(0.01)  # the other turn runs here
            turn_parse.saved(Tracker(sender, Latest({"intent": {"name": intent}})))
            await asyncio.sleep(0.01)
        return seen.parse_data

    async def both() -> list[dict[str, Any] | None]:
        return list(await asyncio.gather(turn("a", "greet"), turn("b", "goodbye")))

    assert asyncio.run(both()) == [{"intent": {"name": "greet"}}, {"intent": {"name": "goodbye"}}]
