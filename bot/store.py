"""The gateway's transcript and conversation queries: sync, one session per call.

Each function is one step of a unit of work; the caller owns the session and
commits (see `ConversationService._db`). Results are plain dataclasses, never
ORM objects, because they cross from a worker thread into the event loop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.base import Button, ConversationRef, InboundMessage, OutboundMessage
from bot.rasa import BotReply
from crm.clock import as_utc, utcnow
from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Delivery,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
    StaffUser,
    TurnState,
)
from crm.services import customers, notices
from crm.services.audit import audit

HELD_STATES = frozenset({ConversationState.queued, ConversationState.assigned})
# System messages after which a held customer knows a person will answer.
_TELLS_HELD = frozenset({"held_notice", "staff_joined"})
# How far back to look for the buttons a customer may press.
_BUTTON_LOOKBACK = 20


@dataclass(frozen=True)
class Claim:
    """A customer message that won the de-duplication claim and is now stored."""

    message_id: int
    text: str
    created_at: datetime
    rejection: str | None  # "bad_payload": stored, but not for the assistant
    # The order of the notice this message answers (the shop spoke first), if any.
    notice_order: str | None = None


@dataclass(frozen=True)
class TurnContext:
    conversation: ConversationRef
    # Held by staff and the customer has not yet been told since the bot last spoke.
    notice_due: bool


@dataclass(frozen=True)
class TranscriptEntry:
    id: int
    sender: Sender
    text: str
    buttons: tuple[Button, ...]
    image: str | None
    created_at: datetime
    channel_message_id: str | None


def _ref(conversation: Conversation, external_id: str | None) -> ConversationRef:
    return ConversationRef(
        id=conversation.id,
        channel=conversation.channel,
        address=conversation.address,
        customer_external_id=external_id,
        locale=conversation.locale,
        state=conversation.state,
    )


def _with_customer(conversation_filter: Any) -> Any:
    return (
        select(Conversation, Customer.external_id)
        .outerjoin(Customer, Conversation.customer_id == Customer.id)
        .where(conversation_filter)
    )


def find_conversation(
    session: Session, *, channel: str, address: str, active_since: datetime | None = None
) -> ConversationRef | None:
    """The newest conversation at `address` on `channel`; with `active_since`, None
    unless it changed or had a message since then (an idle session has expired)."""
    row = session.execute(
        _with_customer((Conversation.channel == channel) & (Conversation.address == address))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    conversation = row[0]
    if active_since is not None and as_utc(conversation.updated_at) < active_since:
        last = session.scalar(select(func.max(Message.created_at)).where(Message.conversation_id == conversation.id))
        if last is None or as_utc(last) < active_since:
            return None
    return _ref(conversation, row[1])


def get_conversation(session: Session, *, conversation_id: str) -> ConversationRef | None:
    row = session.execute(_with_customer(Conversation.id == conversation_id)).first()
    return None if row is None else _ref(row[0], row[1])


def customer_pk(session: Session, *, external_id: str) -> int | None:
    return session.scalar(select(Customer.id).where(Customer.external_id == external_id))


def create_conversation(
    session: Session, *, channel: str, address: str, customer_external_id: str | None, locale: str
) -> ConversationRef:
    customer_id = None
    if customer_external_id is not None:
        customer_id = customer_pk(session, external_id=customer_external_id)
        if customer_id is None:
            raise LookupError("no customer with that external id")
    # Opaque and random: never a channel address, so it can be Rasa's sender id and sit in logs.
    conversation = Conversation(
        id=uuid.uuid4().hex,
        channel=channel,
        address=address,
        customer_id=customer_id,
        locale=locale,
        state=ConversationState.bot,
    )
    session.add(conversation)
    session.flush()
    return _ref(conversation, customer_external_id)


class CustomerConflict(ValueError):
    """The conversation already belongs to a different verified customer."""


def bind_customer(
    session: Session, *, conversation_id: str, customer_external_id: str
) -> ConversationRef | None:
    """Link a customer the channel has just verified to the conversation.

    None when there is no such conversation; LookupError for an unknown
    customer. Binding the customer it already has is a no-op. A conversation
    never changes hands: bound to someone else, it raises CustomerConflict and
    the channel starts a new conversation for the newcomer, so nobody reads
    another person's transcript.
    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    customer_id = customer_pk(session, external_id=customer_external_id)
    if customer_id is None:
        raise LookupError("no customer with that external id")
    if conversation.customer_id is not None and conversation.customer_id != customer_id:
        raise CustomerConflict("the conversation belongs to another customer")
    if conversation.customer_id is None:
        conversation.customer_id = customer_id
        # A handoff waiting for staff shows whom it is about from now on.
        for handoff in session.scalars(
            select(Handoff).where(
                Handoff.conversation_id == conversation_id,
                Handoff.status != HandoffStatus.resolved,
                Handoff.customer_id.is_(None),
            )
        ):
            handoff.customer_id = customer_id
        audit(
            session,
            actor=f"channel:{conversation.channel}",
            action="conversation.bind_customer",
            subject=f"conversation:{conversation_id}",
            detail={"customer": customer_external_id},
        )
        conversation.updated_at = utcnow()
        session.flush()
    return _ref(conversation, customer_external_id)


def customer_by_identity(session: Session, *, channel: str, external_user_id: str) -> str | None:
    """The external id of the customer who linked this channel account (a Telegram user id)."""
    customer = customers.find_customer_by_channel_identity(
        session, channel=channel, external_user_id=external_user_id
    )
    return None if customer is None else customer.external_id


def customer_by_phone(session: Session, *, phone: str) -> str | None:
    """The one customer with this number (E.164); None if unknown or shared by several."""
    customer = customers.find_customer_by_phone(session, phone=phone)
    return None if customer is None else customer.external_id


def link_identity(session: Session, *, customer_external_id: str, channel: str, external_user_id: str) -> bool:
    """Remember that this channel account is the customer's (audited); False if it is someone else's.

    LookupError for an unknown customer.
    """
    customer = customers.get_customer_by_external_id(session, external_id=customer_external_id)
    if customer is None:
        raise LookupError("no customer with that external id")
    try:
        customers.link_channel_identity(
            session, customer=customer, channel=channel, external_user_id=external_user_id
        )
    except ValueError:
        return False
    return True


def offered_payloads(session: Session, *, conversation_id: str) -> set[str]:
    """Payloads of the buttons in the bot's latest turn (its last run of messages).

    The gateway's own messages belong to that run (the out-of-hours choice
    after a handoff has buttons); replies a customer never saw do not.
    """
    recent = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(_BUTTON_LOOKBACK)
    )
    payloads: set[str] = set()
    in_turn = False
    for message in recent:
        if _suppressed(message):
            continue
        if message.sender == Sender.bot or (message.sender == Sender.system and _buttons(message.data)):
            in_turn = True
            payloads.update(b.payload for b in _buttons(message.data))
        elif in_turn:
            break
    return payloads


def claim_inbound(session: Session, *, inbound: InboundMessage) -> Claim | None:
    """Store a customer message; None if its channel message id is already stored.

    The unique (channel, channel_message_id) constraint decides, so two gateways
    receiving the same delivery at the same instant still store it once.
    """
    data: dict[str, Any] | None = None
    rejection = None
    text = inbound.text
    if inbound.payload is not None:
        text = inbound.payload_title or inbound.payload
        data = {"payload": inbound.payload, "title": inbound.payload_title}
        if inbound.payload not in offered_payloads(session, conversation_id=inbound.conversation_id):
            rejection = "bad_payload"
            data["rejected"] = rejection
    message = Message(
        conversation_id=inbound.conversation_id,
        channel=inbound.channel,
        channel_message_id=inbound.channel_message_id,
        sender=Sender.customer,
        text=text,
        data=data,
        # Stored and acknowledged in one step: from here on the turn must end in an answer or an apology.
        turn_state=TurnState.rejected if rejection else TurnState.received,
        turn_updated_at=utcnow(),
    )
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        stored = session.scalar(
            select(Message.id).where(
                Message.channel == inbound.channel,
                Message.channel_message_id == inbound.channel_message_id,
            )
        )
        if stored is None:
            raise  # some other constraint (an unknown conversation): not a duplicate
        return None
    _touch(session, inbound.conversation_id)
    answered = notices.mark_replied(session, conversation_id=inbound.conversation_id)
    return Claim(
        message_id=message.id,
        text=text,
        created_at=as_utc(message.created_at),
        rejection=rejection,
        notice_order=answered.order.number if answered is not None and answered.order is not None else None,
    )


def turn_context(session: Session, *, conversation_id: str) -> TurnContext:
    conversation = get_conversation(session, conversation_id=conversation_id)
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


def add_outbound(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    sender: Sender,
    text: str,
    data: dict[str, Any] | None = None,
    pending: bool = False,
) -> OutboundMessage:
    """Store a message to the customer; `pending`: the gateway sends it next (bot/redelivery.py)."""
    message = Message(
        conversation_id=conversation_id,
        channel=channel,
        sender=sender,
        text=text,
        data=data,
        delivery=Delivery.pending if pending else None,
    )
    session.add(message)
    session.flush()
    _touch(session, conversation_id)
    return _outbound(message)


@dataclass(frozen=True)
class SavedReplies:
    visible: list[OutboundMessage]  # what to deliver, in order
    handoff: bool  # this turn handed the conversation to staff
    # The conversation left `expected_state` while the bot was thinking (a
    # person took over): every reply is stored for the record, none delivered.
    suppressed: bool


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
    """
    handoff = any(reply.handoff is not None for reply in replies)
    moved = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == expected_state)
        .values(state=ConversationState.queued if handoff else next_state, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    suppressed = moved.rowcount == 0
    if suppressed and session.get(Conversation, conversation_id) is None:
        # The customer was erased during this turn (the CRM rows are gone): the
        # confirmation is delivered, and stored nowhere.
        return SavedReplies(visible=_unstored(replies), handoff=False, suppressed=False)
    if suppressed and handoff:
        _fold_stray_handoffs(session, conversation_id)
    visible: list[OutboundMessage] = []
    for reply in replies:
        data: dict[str, Any] = {"suppressed": True} if suppressed else {}
        if reply.buttons:
            data["buttons"] = [b.as_json() for b in reply.buttons]
        if reply.image:
            data["image"] = reply.image
        if reply.custom is not None:
            data["custom"] = reply.custom
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
            visible.append(_outbound(message))
    return SavedReplies(visible=visible, handoff=handoff and not suppressed, suppressed=suppressed)


def _unstored(replies: list[BotReply]) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            id=f"unstored-{uuid.uuid4().hex}",
            sender=Sender.bot,
            text=reply.text,
            buttons=reply.buttons,
            image=reply.image,
            created_at=utcnow(),
        )
        for reply in replies
        if reply.visible
    ]


def _fold_stray_handoffs(session: Session, conversation_id: str) -> None:
    """A handoff the bot queued while a person was already taking over belongs to that person."""
    held = session.scalars(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status == HandoffStatus.assigned)
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()
    if held is None:
        return
    for stray in session.scalars(
        select(Handoff).where(
            Handoff.conversation_id == conversation_id, Handoff.status == HandoffStatus.queued
        )
    ):
        stray.status = HandoffStatus.assigned
        stray.assigned_to_id = held.assigned_to_id
        stray.assigned_at = held.assigned_at


def transcript(session: Session, *, conversation_id: str, limit: int) -> list[TranscriptEntry]:
    """The latest `limit` messages a customer can see, oldest first."""
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    )
    entries = []
    for message in reversed(messages):
        buttons = _buttons(message.data)
        image = (message.data or {}).get("image")
        if not (message.text or buttons or image):
            continue  # a bare custom payload, e.g. the handoff signal
        if _suppressed(message):
            continue  # never delivered: a person took over first
        entries.append(
            TranscriptEntry(
                id=message.id,
                sender=message.sender,
                text=message.text,
                buttons=buttons,
                image=image if isinstance(image, str) else None,
                created_at=as_utc(message.created_at),
                channel_message_id=message.channel_message_id,
            )
        )
    return entries


def database_ready(session: Session) -> bool:
    """The schema is there and answers (for /healthz)."""
    session.execute(select(Conversation.id).limit(1))
    return True


def _touch(session: Session, conversation_id: str) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.updated_at = utcnow()


def _suppressed(message: Message) -> bool:
    return bool((message.data or {}).get("suppressed"))


def _buttons(data: dict[str, Any] | None) -> tuple[Button, ...]:
    raw = (data or {}).get("buttons") or []
    return tuple(
        Button(title=str(b.get("title", "")), payload=str(b["payload"]))
        for b in raw
        if isinstance(b, dict) and b.get("payload")
    )


def _outbound(message: Message) -> OutboundMessage:
    image = (message.data or {}).get("image")
    return OutboundMessage(
        id=str(message.id),
        sender=message.sender,
        text=message.text,
        buttons=_buttons(message.data),
        image=image if isinstance(image, str) else None,
        created_at=as_utc(message.created_at),
    )


# -- staff taking over and handing back ------------------------------------------------


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
    conversation = get_conversation(session, conversation_id=conversation_id)
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
    moved = get_conversation(session, conversation_id=conversation_id)
    assert moved is not None
    return Assignment(conversation=moved, staff_id=staff_id, previous_state=state, notice=notice)


def add_staff_reply(
    session: Session, *, conversation_id: str, staff_id: int, text: str
) -> tuple[ConversationRef, OutboundMessage]:
    """Store a staff member's reply; only the person the conversation is assigned to may send one."""
    _staff(session, staff_id)
    conversation = get_conversation(session, conversation_id=conversation_id)
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
    _touch(session, conversation_id)
    audit(
        session,
        actor=f"staff:{staff_id}",
        action="conversation.reply",
        subject=f"conversation:{conversation_id}",
        detail={"message": message.id},
    )
    return conversation, _outbound(message)


def resolve_conversation(
    session: Session, *, conversation_id: str, staff_id: int, may_take_over: bool
) -> Resolution:
    """Close the handoff (resolved by `staff_id`) and mark the conversation for the bot to resume.

    The assignee resolves; admins (`may_take_over`) may also close a colleague's
    conversation or one still in the queue.
    """
    _staff(session, staff_id)
    conversation = get_conversation(session, conversation_id=conversation_id)
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
    resolved = get_conversation(session, conversation_id=conversation_id)
    assert resolved is not None
    return Resolution(conversation=resolved, staff_id=staff_id, handoff_ids=tuple(h.id for h in handoffs))


def finish_resume(session: Session, *, conversation_id: str) -> bool:
    """Back to the bot after a resolve, unless the resume turn already moved it on."""
    return _move(session, conversation_id, ConversationState.resolved, ConversationState.bot)


def customer_phone(session: Session, *, conversation_id: str) -> str | None:
    """A number staff could call back: the SMS sender's, or the verified customer's in the CRM."""
    row = session.execute(
        select(Conversation.channel, Conversation.address, Customer.phone)
        .outerjoin(Customer, Conversation.customer_id == Customer.id)
        .where(Conversation.id == conversation_id)
    ).first()
    if row is None:
        return None
    channel, address, phone = row
    if channel == "sms" and address:
        return str(address)
    return phone
