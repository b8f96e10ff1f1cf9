"""A turn's bot replies: stored only if the conversation is still the bot's, and what is due to the customer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.core.messages import BotReply, ConversationRef, OutboundMessage, unstored_reply
from bot.persistence import handoffs, rows
from bot.persistence.handoffs import QueuedHandoff
from bot.persistence.states import HELD_STATES
from bot.persistence.transcript import as_outbound
from crm.clock import utcnow
from crm.models import Conversation, ConversationState, Delivery, Message, Sender

# System messages after which a held customer knows a person will answer.
_TELLS_HELD = frozenset({"held_notice", "staff_joined"})


@dataclass(frozen=True)
class TurnContext:
    conversation: ConversationRef
    # Held by staff and the customer has not yet been told since the bot last spoke.
    notice_due: bool


def turn_context(session: Session, *, conversation_id: str) -> TurnContext:
    conversation = rows.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        raise LookupError("conversation vanished during its turn")
    notice_due = False
    if conversation.state in HELD_STATES:
        last_bot = session.scalar(
            select(func.max(Message.id)).where(
                Message.conversation_id == conversation_id, Message.sender == Sender.bot
            )
        )
        notices = session.scalars(
            select(Message.data).where(
                Message.conversation_id == conversation_id,
                Message.sender == Sender.system,
                Message.id > (last_bot or 0),
            )
        )
        notice_due = not any((d or {}).get("kind") in _TELLS_HELD for d in notices)
    return TurnContext(conversation=conversation, notice_due=notice_due)


@dataclass(frozen=True)
class SavedReplies:
    visible: list[OutboundMessage]  # what to deliver, in order
    # The conversation left `expected_state` while the bot was thinking (a
    # person took over): every reply is stored for the record, none delivered.
    suppressed: bool
    # The handoff this turn moved the conversation to the queue with (queued now, or already open).
    queued: QueuedHandoff | None = None

    @property
    def handoff(self) -> bool:
        """This turn handed the conversation to staff."""
        return self.queued is not None


def save_bot_replies(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    replies: list[BotReply],
    expected_state: ConversationState = ConversationState.bot,
    next_state: ConversationState = ConversationState.bot,
) -> SavedReplies:
    """Store a turn's replies if the conversation is still in `expected_state`.

    The state check and the state change are one UPDATE ... WHERE state = ?,
    so a staff assignment committed a moment earlier wins: the replies are
    then stored as suppressed and the caller delivers nothing. The row lock
    that UPDATE takes also makes an assignment arriving a moment later wait
    until these replies are stored (and so come before its notice).

    A handoff packet among the replies is queued here, in the same
    transaction as the move to `queued`: only the turn that made that move
    queues it, so a turn stored again (written behind after a database
    failure, a recovered or replayed turn) never queues a second one, and a
    person who took over meanwhile keeps the packet they made.
    """
    packet = next((reply.handoff for reply in replies if reply.handoff is not None), None)
    moved = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == expected_state)
        .values(state=ConversationState.queued if packet is not None else next_state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    suppressed = moved.rowcount == 0
    if suppressed and session.get(Conversation, conversation_id) is None:
        # The customer was erased during this turn (the CRM rows are gone): the
        # confirmation is delivered, and stored nowhere.
        return SavedReplies(visible=_unstored(replies), suppressed=False)
    queued = None
    if packet is not None and not suppressed:
        queued = handoffs.queue_handoff(session, conversation_id=conversation_id, packet=packet)
    visible: list[OutboundMessage] = []
    for reply in replies:
        data: dict[str, Any] = {"suppressed": True} if suppressed else {}
        if reply.buttons:
            data["buttons"] = [b.as_json() for b in reply.buttons]
        if reply.image:
            data["image"] = reply.image
        if reply.custom is not None:
            data["custom"] = _as_stored(reply, queued)
        message = Message(
            conversation_id=conversation_id,
            channel=channel,
            sender=Sender.bot,
            text=reply.text,
            data=data or None,
            delivery=Delivery.pending if reply.visible and not suppressed else None,
        )
        session.add(message)
        session.flush()
        if reply.visible and not suppressed:
            visible.append(as_outbound(message))
    return SavedReplies(visible=visible, suppressed=suppressed, queued=queued)


def _as_stored(reply: BotReply, queued: QueuedHandoff | None) -> dict[str, Any]:
    """A custom payload as the transcript keeps it: a handoff packet shrinks to the row it became."""
    custom = dict(reply.custom or {})
    packet = reply.handoff
    if packet is not None:
        reason = packet.get("reason")
        if queued is not None:
            custom["handoff"] = queued.signal()
        else:  # suppressed: a person holds the conversation, nothing was queued
            custom["handoff"] = {"reason": reason} if isinstance(reason, str) else {}
    return custom


def _unstored(replies: list[BotReply]) -> list[OutboundMessage]:
    return [
        unstored_reply(reply, id=f"unstored-{uuid.uuid4().hex}", created_at=utcnow())
        for reply in replies
        if reply.visible
    ]
