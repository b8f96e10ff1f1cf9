"""actions.identity.attempts: failed attempts at proving who one is, counted per conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.identity.attempts import (
    FAILED_ATTEMPT_ACTION,
    MAX_VERIFICATION_ATTEMPTS,
    failed_attempts,
    failure_events,
    no_match,
    record_failed_attempt,
    tries,
)
from crm.models import AuditEntry
from tests.actions.tracker_support import make_tracker


def test_a_miss_is_audited_with_the_channel_and_nothing_the_customer_typed(session: Session) -> None:
    tracker = make_tracker(text="71043 amelia@example.com", sender_id="conv-a", metadata={"channel": "telegram"})
    assert record_failed_attempt(session, tracker) == 1
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.subject, entry.detail) == (
        "anonymous", FAILED_ATTEMPT_ACTION, "conversation:conv-a", {"channel": "telegram"})


def test_misses_are_counted_per_conversation_and_never_fewer_than_the_slot_says(session: Session) -> None:
    record_failed_attempt(session, make_tracker(sender_id="conv-b"))
    assert record_failed_attempt(session, make_tracker(sender_id="conv-b")) == 2
    assert failed_attempts(session, "conv-b") == 2 and failed_attempts(session, "conv-c") == 0
    # The tracker may know of more (a miss before a restart of the CRM): the higher count wins.
    assert record_failed_attempt(session, make_tracker(sender_id="conv-c", slots={"verification_attempts": 2.0})) == 3


def test_a_very_long_conversation_id_is_counted_as_stored(session: Session) -> None:
    long_id = "x" * 200
    record_failed_attempt(session, make_tracker(sender_id=long_id))
    assert failed_attempts(session, long_id) == 1


@pytest.mark.parametrize(("attempts", "failed"), [(1, False), (2, False), (MAX_VERIFICATION_ATTEMPTS, True), (5, True)])
def test_failure_events_clear_the_guesses_and_give_up_at_the_limit(attempts: int, failed: bool) -> None:
    values = failure_events(attempts)
    assert (values["order_number"], values["email"], values["verification_attempts"]) == (None, None, float(attempts))
    assert values.get("verification_failed", False) is failed


def test_the_answer_to_a_wrong_pair_says_how_many_tries_are_left_and_never_which_half_was_wrong() -> None:
    assert (tries(1), tries(2)) == ("1 try", "2 tries")
    assert no_match(1).endswith("(2 tries left).")
    assert no_match(2).endswith("(1 try left).")
    assert "order number with that e-mail address" in no_match(1)
