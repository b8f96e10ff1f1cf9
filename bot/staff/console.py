"""What the staff console shows: the queue and one conversation with everything
the bot knew (the customer's card: customer_card.py; the audit log: audit_log.py).

Sync read functions, one unit of work each (keyword-only, the caller owns the
session), returning plain dataclasses the templates render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.persistence import states
from bot.persistence.transcript import MessageView, latest_messages
from bot.staff.customer_card import CustomerCard, customer_card
from crm.clock import as_utc
from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
    StaffUser,
)
from crm.services import handoff_queue

# A conversation with the bot counts as live while its last message is this recent.
LIVE_WINDOW = timedelta(minutes=30)
_LIVE_LIMIT = 25
_TRANSCRIPT_LIMIT = 500
_HELD = (ConversationState.queued, ConversationState.assigned)


@dataclass(frozen=True)
class QueueRow:
    conversation_id: str
    channel: str
    state: ConversationState
    priority: int
    since: datetime
    reason: str | None
    intent: str | None
    verified: bool
    customer_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    callback: bool


@dataclass(frozen=True)
class QueueView:
    waiting: list[QueueRow]
    with_staff: list[QueueRow]
    live: list[QueueRow]


@dataclass(frozen=True)
class Line(MessageView):
    buttons: tuple[str, ...]
    staff_name: str | None = None
    suppressed: bool = False
    note: str | None = None  # what a line without text was (the handoff signal)


@dataclass(frozen=True)
class Packet:
    id: int
    reason: str
    intent: str | None
    priority: int
    verified: bool
    slots: dict[str, Any]
    order_numbers: list[Any]
    status: HandoffStatus
    created_at: datetime
    assigned_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True)
class ConversationView:
    id: str
    channel: str
    state: ConversationState
    created_at: datetime
    assignee_id: int | None
    assignee_name: str | None
    lines: list[Line]
    card: CustomerCard | None
    packet: Packet | None
    callback: str | None  # "callback" / "reply_here": the customer's out-of-hours choice
    earlier_handoffs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def names_of(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids))).all())


def _choices(session: Session, conversation_ids: list[str]) -> dict[str, str]:
    """The latest out-of-hours choice per conversation, from the gateway's answers to it."""
    if not conversation_ids:
        return {}
    rows = session.execute(
        select(Message.conversation_id, Message.data)
        .where(Message.conversation_id.in_(conversation_ids), Message.sender == Sender.system)
        .order_by(Message.id)
    ).all()
    found: dict[str, str] = {}
    for conversation_id, data in rows:
        if (data or {}).get("kind") == "handoff_choice":
            found[conversation_id] = str(data.get("choice"))
    return found


def queue_view(session: Session, *, now: datetime) -> QueueView:
    held = list(
        session.execute(
            select(Conversation, Customer.first_name, Customer.last_name)
            .outerjoin(Customer, Conversation.customer_id == Customer.id)
            .where(Conversation.state.in_(_HELD))
        ).all()
    )
    live = list(
        session.execute(
            select(Conversation, Customer.first_name, Customer.last_name)
            .outerjoin(Customer, Conversation.customer_id == Customer.id)
            .where(Conversation.state == ConversationState.bot, Conversation.updated_at >= now - LIVE_WINDOW)
            .order_by(Conversation.updated_at.desc())
            .limit(_LIVE_LIMIT)
        ).all()
    )
    ids = [row[0].id for row in held]
    # Priority and since when: the one queue query the handoff uses too.
    entries = {e.conversation_id: e for e in handoff_queue.held(session, _HELD)}
    latest: dict[str, Handoff] = {}
    for h in session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id.in_(ids), Handoff.status != HandoffStatus.resolved)
        .order_by(Handoff.id)
    ):
        latest[h.conversation_id] = h
    names = names_of(session, {h.assigned_to_id for h in latest.values() if h.assigned_to_id})
    choices = _choices(session, ids)

    def row(conversation: Conversation, first: str | None, last: str | None) -> QueueRow:
        entry = entries.get(conversation.id)
        handoff = latest.get(conversation.id)
        assignee = handoff.assigned_to_id if handoff is not None else None
        return QueueRow(
            conversation_id=conversation.id,
            channel=conversation.channel,
            state=conversation.state,
            priority=entry.priority if entry is not None else 0,
            since=entry.since if entry is not None else as_utc(conversation.updated_at),
            reason=handoff.reason if handoff is not None else None,
            intent=handoff.intent if handoff is not None else None,
            verified=conversation.customer_id is not None,
            customer_name=" ".join(p for p in (first, last) if p) or None,
            assignee_id=assignee,
            assignee_name=names.get(assignee) if assignee else None,
            callback=choices.get(conversation.id) == "callback",
        )

    rows = [row(*r) for r in held]
    waiting = sorted(
        (r for r in rows if r.state == ConversationState.queued),
        key=lambda r: (-r.priority, r.since, r.conversation_id),  # the order of handoff_queue.queue
    )
    with_staff = sorted((r for r in rows if r.state == ConversationState.assigned), key=lambda r: r.since)
    return QueueView(waiting=waiting, with_staff=with_staff, live=[row(*r) for r in live])


def conversation_view(session: Session, *, conversation_id: str) -> ConversationView | None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    messages = latest_messages(session, conversation_id=conversation_id, limit=_TRANSCRIPT_LIMIT)
    messages.reverse()
    handoffs = list(
        session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
        )
    )
    names = names_of(
        session,
        {m.staff_user_id for m in messages if m.staff_user_id}
        | {h.assigned_to_id for h in handoffs if h.assigned_to_id}
        | {h.resolved_by_id for h in handoffs if h.resolved_by_id},
    )
    assignee = states.assignee(session, conversation_id=conversation_id)
    latest = handoffs[-1] if handoffs else None
    packet = None
    if latest is not None:
        packet = Packet(
            id=latest.id,
            reason=latest.reason,
            intent=latest.intent,
            priority=latest.priority,
            verified=latest.verified,
            slots=dict(latest.slots or {}),
            order_numbers=list(latest.order_numbers or []),
            status=latest.status,
            created_at=as_utc(latest.created_at),
            assigned_at=as_utc(latest.assigned_at) if latest.assigned_at else None,
            resolved_at=as_utc(latest.resolved_at) if latest.resolved_at else None,
            resolved_by=names.get(latest.resolved_by_id) if latest.resolved_by_id else None,
        )
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    return ConversationView(
        id=conversation.id,
        channel=conversation.channel,
        state=conversation.state,
        created_at=as_utc(conversation.created_at),
        assignee_id=assignee,
        assignee_name=names.get(assignee) if assignee else None,
        lines=[line_of(m, names) for m in messages],
        card=customer_card(session, customer=customer) if customer is not None else None,
        packet=packet,
        callback=_choices(session, [conversation_id]).get(conversation_id),
        earlier_handoffs=max(0, len(handoffs) - 1),
    )


def line_of(message: Message, names: dict[int, str]) -> Line:
    data = message.data or {}
    buttons = tuple(str(b.get("title", "")) for b in data.get("buttons") or [] if isinstance(b, dict))
    note = None
    custom = data.get("custom")
    if not message.text and isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
        note = f"The assistant handed over ({custom['handoff'].get('reason', 'unknown reason')})."
    elif not message.text and custom is not None:
        note = "The assistant sent structured data."
    if message.sender == Sender.customer and data.get("payload"):
        note = "Pressed a button" + (" the assistant no longer offered." if data.get("rejected") else ".")
    return Line.of(
        message,
        buttons=buttons,
        staff_name=names.get(message.staff_user_id) if message.staff_user_id else None,
        suppressed=bool(data.get("suppressed")),
        note=note,
    )


def staff_line(session: Session, *, message_id: int) -> Line | None:
    message = session.get(Message, message_id)
    if message is None:
        return None
    return line_of(message, names_of(session, {message.staff_user_id} if message.staff_user_id else set()))
