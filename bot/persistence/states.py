"""Conversation state transitions: staff taking over, replying, handing back.

Every transition is a compare-and-set on the conversation's state (`_move`), so two
people acting at once cannot both win. Each raises TransitionRefused when the state
does not allow it; the console turns the reason into a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.messages import ConversationRef, OutboundMessage
from bot.persistence import rows
from bot.persistence.transcript import add_outbound, as_outbound, touch
from crm.clock import utcnow
from crm.models import (
    Conversation,
    ConversationState,
    Delivery,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
    StaffUser,
)
from crm.services.audit import audit

HELD_STATES = frozenset({ConversationState.queued, ConversationState.assigned})


class TransitionRefused(Exception):
    """A staff action the conversation's state does not allow; `reason` says why, for the console."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Assignment:
    conversation: ConversationRef
    staff_id: int
    previous_state: ConversationState
    # The "… has joined" message for the customer; None when it was already theirs.
    notice: OutboundMessage | None


@dataclass(frozen=True)
class Resolution:
    conversation: ConversationRef
    staff_id: int
    handoff_ids: tuple[int, ...]


def _staff(session: Session, staff_id: int) -> StaffUser:
    staff = session.get(StaffUser, staff_id)
    if staff is None or not staff.active:
        raise TransitionRefused("not_staff")
    return staff


def _open_handoffs(session: Session, conversation_id: str) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .where(Handoff.conversation_id == conversation_id, Handoff.status != HandoffStatus.resolved)
            .order_by(Handoff.id)
        )
    )


def _move(session: Session, conversation_id: str, expected: ConversationState, to: ConversationState) -> bool:
    """Compare-and-set on the state: False if someone else moved it first."""
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == expected)
        .values(state=to, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def assignee(session: Session, *, conversation_id: str) -> int | None:
    """The staff member holding the conversation, if it is assigned."""
    return session.scalar(
        select(Handoff.assigned_to_id)
        .where(Handoff.conversation_id == conversation_id, Handoff.status == HandoffStatus.assigned)
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def assign_conversation(
    session: Session, *, conversation_id: str, staff_id: int, may_take_over: bool
) -> Assignment:
    """Give the conversation to `staff_id`: from the queue, or straight from the bot.

    Taking it from a colleague needs `may_take_over` (admins). Two people
    pressing "assign to me" at once: the state compare-and-set lets exactly one win.
    """
    staff = _staff(session, staff_id)
    conversation = rows.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        raise TransitionRefused("not_found")
    state = conversation.state
    if state == ConversationState.resolved:
        raise TransitionRefused("resolving")
    if state == ConversationState.assigned:
        holder = assignee(session, conversation_id=conversation_id)
        if holder == staff_id:
            return Assignment(conversation=conversation, staff_id=staff_id, previous_state=state, notice=None)
        if not may_take_over:
            raise TransitionRefused("taken")
    if not _move(session, conversation_id, state, ConversationState.assigned):
        raise TransitionRefused("changed")
    now = utcnow()
    handoffs = _open_handoffs(session, conversation_id)
    if not handoffs:
        # Taken over from the bot without a handoff: the packet records that a person chose to.
        row = session.get(Conversation, conversation_id)
        customer_id = row.customer_id if row is not None else None
        handoffs = [
            Handoff(
                conversation_id=conversation_id,
                customer_id=customer_id,
                reason="staff_takeover",
                priority=0,
                verified=customer_id is not None,
                slots={},
                order_numbers=[],
                created_at=now,
            )
        ]
        session.add(handoffs[0])
    for handoff in handoffs:
        handoff.status = HandoffStatus.assigned
        handoff.assigned_to_id = staff_id
        if handoff.assigned_at is None:
            handoff.assigned_at = now
    session.flush()
    action = "conversation.assign" if state == ConversationState.queued else "conversation.take_over"
    audit(
        session,
        actor=f"staff:{staff_id}",
        action=action,
        subject=f"conversation:{conversation_id}",
        detail={"from_state": state.value, "handoffs": [h.id for h in handoffs]},
    )
    notice = add_outbound(
        session,
        conversation_id=conversation_id,
        channel=conversation.channel,
        sender=Sender.system,
        text=f"{staff.name} from our team has joined the chat.",
        data={"kind": "staff_joined", "staff_user_id": staff_id},
        pending=True,
    )
    moved = rows.get_conversation(session, conversation_id=conversation_id)
    assert moved is not None
    return Assignment(conversation=moved, staff_id=staff_id, previous_state=state, notice=notice)


def add_staff_reply(
    session: Session, *, conversation_id: str, staff_id: int, text: str
) -> tuple[ConversationRef, OutboundMessage]:
    """Store a staff member's reply; only the person the conversation is assigned to may send one."""
    _staff(session, staff_id)
    conversation = rows.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        raise TransitionRefused("not_found")
    if conversation.state != ConversationState.assigned:
        raise TransitionRefused("not_assigned")
    if assignee(session, conversation_id=conversation_id) != staff_id:
        raise TransitionRefused("not_yours")
    message = Message(
        conversation_id=conversation_id,
        channel=conversation.channel,
        sender=Sender.agent,
        text=text,
        staff_user_id=staff_id,
        delivery=Delivery.pending,
    )
    session.add(message)
    session.flush()
    touch(session, conversation_id)
    audit(
        session,
        actor=f"staff:{staff_id}",
        action="conversation.reply",
        subject=f"conversation:{conversation_id}",
        detail={"message": message.id},
    )
    return conversation, as_outbound(message)


def resolve_conversation(
    session: Session, *, conversation_id: str, staff_id: int, may_take_over: bool
) -> Resolution:
    """Close the handoff (resolved by `staff_id`) and mark the conversation for the bot to resume.

    The assignee resolves; admins (`may_take_over`) may also close a colleague's
    conversation or one still in the queue.
    """
    _staff(session, staff_id)
    conversation = rows.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        raise TransitionRefused("not_found")
    state = conversation.state
    if state not in HELD_STATES:
        raise TransitionRefused("not_held")
    if not may_take_over and (
        state != ConversationState.assigned or assignee(session, conversation_id=conversation_id) != staff_id
    ):
        raise TransitionRefused("not_yours")
    if not _move(session, conversation_id, state, ConversationState.resolved):
        raise TransitionRefused("changed")
    now = utcnow()
    handoffs = _open_handoffs(session, conversation_id)
    for handoff in handoffs:
        handoff.status = HandoffStatus.resolved
        handoff.resolved_by_id = staff_id
        handoff.resolved_at = now
    session.flush()
    audit(
        session,
        actor=f"staff:{staff_id}",
        action="conversation.resolve",
        subject=f"conversation:{conversation_id}",
        detail={"from_state": state.value, "handoffs": [h.id for h in handoffs]},
    )
    resolved = rows.get_conversation(session, conversation_id=conversation_id)
    assert resolved is not None
    return Resolution(conversation=resolved, staff_id=staff_id, handoff_ids=tuple(h.id for h in handoffs))


def finish_resume(session: Session, *, conversation_id: str) -> bool:
    """Back to the bot after a resolve, unless the resume turn already moved it on."""
    return _move(session, conversation_id, ConversationState.resolved, ConversationState.bot)

