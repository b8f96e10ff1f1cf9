"""bot/core/outcomes.py: what handling one message came to, and the receipt its channel gets."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.outcomes import Outcome, Receipt


def test_outcomes_are_the_strings_logs_and_tests_compare() -> None:
    assert [o.value for o in Outcome] == ["duplicate", "unstored", "rejected", "answered", "failed", "held"]
    assert Outcome("held") is Outcome.held and Outcome.answered == "answered"


def test_a_receipt_is_stored_and_fresh_unless_told_and_cannot_change() -> None:
    receipt = Receipt(conversation_id="c1", channel_message_id="m1", duplicate=False)
    assert (receipt.unavailable, receipt.message_id, receipt.text, receipt.created_at, receipt.rejection) == (
        False, None, "", None, None,
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.duplicate = True  # type: ignore[misc]
