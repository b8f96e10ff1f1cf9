"""crm.services.handoff_queue: the queue query the handoff and the staff console share."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import ConversationState
from crm.services import handoff_queue
from tests.factories import make_held_conversation


def test_priority_then_the_longest_wait_and_resolved_handoffs_do_not_count(session: Session) -> None:
    make_held_conversation(session, "q-old", ConversationState.queued, (0, 30, False))
    make_held_conversation(session, "q-new", ConversationState.queued, (0, 5, False))
    make_held_conversation(session, "q-urgent", ConversationState.queued, (10, 2, False), (50, 90, True))
    make_held_conversation(session, "q-bare", ConversationState.queued)  # no open handoff: priority 0, since its last update
    make_held_conversation(session, "taken", ConversationState.assigned, (5, 40, False))
    make_held_conversation(session, "bot", ConversationState.bot, (99, 99, True))

    order = [e.conversation_id for e in handoff_queue.queue(session)]
    assert order == ["q-urgent", "q-old", "q-new", "q-bare"]
    entries = {e.conversation_id: e for e in handoff_queue.held(session, [ConversationState.assigned])}
    assert list(entries) == ["taken"] and entries["taken"].priority == 5
    assert entries["taken"].since < as_utc(utcnow()) - timedelta(minutes=39)
