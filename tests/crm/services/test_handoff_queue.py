"""crm.services.handoff_queue: the queue query the handoff and the staff console share."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.staff import console
from crm.clock import as_utc, utcnow
from crm.models import Conversation, ConversationState, Handoff, HandoffStatus
from crm.services import handoff_queue


def _held(session: Session, cid: str, state: ConversationState, *handoffs: tuple[int, int, bool]) -> None:
    """A conversation and its handoffs: (priority, minutes ago, resolved)."""
    now = utcnow()
    session.add(Conversation(id=cid, channel="web", state=state, updated_at=now - timedelta(minutes=1)))
    for priority, minutes, resolved in handoffs:
        session.add(
            Handoff(
                conversation_id=cid, reason="asked", priority=priority, slots={}, order_numbers=[],
                status=HandoffStatus.resolved if resolved else HandoffStatus.queued,
                created_at=now - timedelta(minutes=minutes),
            )
        )  # fmt: skip
    session.flush()


def test_priority_then_the_longest_wait_and_resolved_handoffs_do_not_count(session: Session) -> None:
    _held(session, "q-old", ConversationState.queued, (0, 30, False))
    _held(session, "q-new", ConversationState.queued, (0, 5, False))
    _held(session, "q-urgent", ConversationState.queued, (10, 2, False), (50, 90, True))
    _held(session, "q-bare", ConversationState.queued)  # no open handoff: priority 0, since its last update
    _held(session, "taken", ConversationState.assigned, (5, 40, False))
    _held(session, "bot", ConversationState.bot, (99, 99, True))

    order = [e.conversation_id for e in handoff_queue.queue(session)]
    assert order == ["q-urgent", "q-old", "q-new", "q-bare"]
    entries = {e.conversation_id: e for e in handoff_queue.held(session, [ConversationState.assigned])}
    assert list(entries) == ["taken"] and entries["taken"].priority == 5
    assert entries["taken"].since < as_utc(utcnow()) - timedelta(minutes=39)


def test_the_console_shows_the_queue_in_the_same_order(session: Session) -> None:
    _held(session, "a", ConversationState.queued, (0, 30, False))
    _held(session, "b", ConversationState.queued, (3, 10, False))
    _held(session, "c", ConversationState.queued, (0, 50, False), (1, 1, False))
    _held(session, "mine", ConversationState.assigned, (2, 20, False))

    view = console.queue_view(session, now=utcnow())
    assert [r.conversation_id for r in view.waiting] == [e.conversation_id for e in handoff_queue.queue(session)]
    assert [r.conversation_id for r in view.waiting] == ["b", "c", "a"]
    c = next(r for r in view.waiting if r.conversation_id == "c")
    assert c.priority == 1 and c.since < as_utc(utcnow()) - timedelta(minutes=49)
    assert [(r.conversation_id, r.priority) for r in view.with_staff] == [("mine", 2)]
