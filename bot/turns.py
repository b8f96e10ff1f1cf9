"""Turn state: the durable promise behind every acknowledged customer message.

A customer message is stored `received` in the same transaction that claims
it; the gateway marks it `processing` before asking Rasa and `answered`,
`apologised` or `held` when the turn ends. A turn left in `received` or
`processing` longer than its lease was abandoned (a crash, a deploy, a
database error) and belongs to the recovery pass (bot/recovery.py). Every
transition is a compare-and-set on the state, so two gateways (or a gateway
and its own recovery pass) never both finish one turn: at most one apology.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.core.messages import BotReply, OutboundMessage
from bot.persistence import replies as turn_replies
from bot.persistence.claims import Claim
from bot.persistence.replies import save_bot_replies
from bot.persistence.transcript import as_outbound, touch
from crm.clock import as_utc, utcnow
from crm.models import Conversation, ConversationState, Delivery, Message, Sender, TurnState
from crm.services import review

OPEN = (TurnState.received, TurnState.processing)
FINAL = frozenset({TurnState.answered, TurnState.apologised, TurnState.held, TurnState.rejected})


@dataclass(frozen=True)
class Stranded:
    """A turn nobody is finishing: what the recovery pass needs to finish it or apologise."""

    message_id: int
    conversation_id: str
    channel: str
    channel_message_id: str | None
    state: TurnState
    text: str
    payload: str | None
    payload_title: str | None
    created_at: datetime
    # The lease as stored (compared as is, so the compare-and-set matches on every database).
    lease: datetime


def mark(
    session: Session,
    *,
    message_id: int,
    state: TurnState,
    reason: str | None = None,
    expected: Iterable[TurnState] = OPEN,
) -> bool:
    """Move the turn to `state` if it is still in one of `expected`; False if someone else moved it."""
    moved = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.turn_state.in_(list(expected)))
        .values(turn_state=state, turn_reason=reason, turn_updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


def begin(session: Session, *, message_id: int, conversation_id: str) -> turn_replies.TurnContext:
    """The turn starts: marked `processing` (before Rasa is asked) and, in the same unit of
    work, what the assistant needs to know about the conversation (one round trip, not two)."""
    mark(session, message_id=message_id, state=TurnState.processing)
    return turn_replies.turn_context(session, conversation_id=conversation_id)


@dataclass(frozen=True)
class Reading:
    """How Rasa read the turn's message (its parse header), for the insights page and the review queue."""

    intent: str
    confidence: float
    ranking: Sequence[Sequence[Any]]
    threshold: float


def finish(
    session: Session,
    *,
    message_id: int,
    state: TurnState,
    reason: str | None = None,
    reading: Reading | None = None,
) -> bool:
    """The turn ends: how its message was read (if Rasa said) and its final mark, in one unit of work.
    False if someone else closed the turn first (the reading is stored all the same)."""
    if reading is not None:
        review.record_reading(
            session,
            message_id=message_id,
            intent=reading.intent,
            confidence=reading.confidence,
            ranking=reading.ranking,
            threshold=reading.threshold,
        )
    return mark(session, message_id=message_id, state=state, reason=reason)


def state_of(session: Session, *, message_id: int) -> TurnState | None:
    return session.scalar(select(Message.turn_state).where(Message.id == message_id))


def stranded(
    session: Session, *, leased_before: datetime, skip: Collection[int] = (), limit: int = 50
) -> list[Stranded]:
    """Open turns whose lease ran out, oldest first (`skip`: this gateway's turns in flight)."""
    query = (
        select(Message)
        .where(
            Message.sender == Sender.customer,
            Message.turn_state.in_(OPEN),
            Message.turn_updated_at < leased_before,
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if skip:
        query = query.where(Message.id.not_in(list(skip)))
    found = []
    for message in session.scalars(query):
        data = message.data or {}
        found.append(
            Stranded(
                message_id=message.id,
                conversation_id=message.conversation_id,
                channel=message.channel,
                channel_message_id=message.channel_message_id,
                state=TurnState(message.turn_state),
                text=message.text,
                payload=data.get("payload"),
                payload_title=data.get("title"),
                created_at=as_utc(message.created_at),
                lease=message.turn_updated_at or utcnow(),
            )
        )
    return found


def take(session: Session, *, turn: Stranded) -> bool:
    """Renew the lease of a stranded turn for this caller; False if another gateway took it first."""
    moved = session.execute(
        update(Message)
        .where(
            Message.id == turn.message_id,
            Message.turn_state == turn.state,
            Message.turn_updated_at == turn.lease,
        )
        .values(turn_updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


def replied_after(session: Session, *, message_id: int, conversation_id: str) -> bool:
    """Whether anything reached the transcript for the customer after this message.

    Turns of one conversation run in arrival order, so a reply stored after the
    message answered it: the gateway stopped between storing and marking.
    """
    later = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.id > message_id,
            Message.sender != Sender.customer,
        )
    )
    return bool(later)


def conversation_state(session: Session, *, conversation_id: str) -> ConversationState | None:
    return session.scalar(select(Conversation.state).where(Conversation.id == conversation_id))


def apologise(
    session: Session, *, message_id: int, conversation_id: str, channel: str, text: str, reason: str
) -> OutboundMessage | None:
    """Store the apology and close the turn in one transaction; None if the turn was already closed."""
    if not mark(session, message_id=message_id, state=TurnState.apologised, reason=reason):
        return None
    message = Message(
        conversation_id=conversation_id,
        channel=channel,
        sender=Sender.system,
        text=text,
        data={"kind": "apology", "failure": reason},
        delivery=Delivery.pending,
    )
    session.add(message)
    session.flush()
    touch(session, conversation_id)
    return as_outbound(message)


def reclaim(
    session: Session, *, channel: str, channel_message_id: str, leased_before: datetime, skip: Collection[int]
) -> Claim | None:
    """A resent message id whose turn did not end in an answer: take it up again.

    A customer (or a widget reconnecting) resends what it believes went
    unanswered; counting that as a duplicate would drop it in silence. Apologised
    turns run again; abandoned ones (lease expired, not in flight here) too.
    Answered, held, rejected and live turns stay duplicates.
    """
    message = session.scalars(
        select(Message).where(
            Message.channel == channel,
            Message.channel_message_id == channel_message_id,
            Message.sender == Sender.customer,
        )
    ).first()
    if message is None or message.id in skip or message.turn_state is None:
        return None
    state = TurnState(message.turn_state)
    stale = message.turn_updated_at is not None and as_utc(message.turn_updated_at) < leased_before
    if not (state == TurnState.apologised or (state in OPEN and stale)):
        return None
    moved = session.execute(
        update(Message)
        .where(Message.id == message.id, Message.turn_state == state)
        .values(turn_state=TurnState.received, turn_reason=None, turn_updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return None
    return Claim(
        message_id=message.id, text=message.text, created_at=as_utc(message.created_at), rejection=None
    )


@dataclass(frozen=True)
class Owed:
    """A write the database refused, kept until it takes writes again."""

    message_id: int
    conversation_id: str
    channel: str
    state: TurnState
    reason: str | None = None
    apology: str | None = None  # the apology to store (and deliver, unless `delivered`)
    answer: tuple[BotReply, ...] = ()  # Rasa's replies, already delivered
    delivered: bool = True


def write_owed(session: Session, *, owed: Owed) -> OutboundMessage | None:
    """Write down what the database refused mid-turn; the apology to deliver if it was never sent."""
    if owed.apology is not None:
        return apologise(
            session,
            message_id=owed.message_id,
            conversation_id=owed.conversation_id,
            channel=owed.channel,
            text=owed.apology,
            reason=owed.reason or "database",
        )
    if owed.answer:
        save_bot_replies(
            session,
            conversation_id=owed.conversation_id,
            channel=owed.channel,
            replies=list(owed.answer),
            expected_state=ConversationState.bot,
        )
    mark(session, message_id=owed.message_id, state=owed.state, reason=owed.reason)
    return None
