"""bot/persistence/handoffs.py and save_bot_replies: the gateway queues each handoff packet once.

The queue row is written in the transaction that stores the turn's replies and
moves the conversation to `queued`; storing the same turn again (written
behind after a database failure, recovered, replayed) adds nothing. The
priority is the CRM's `handoff_priority`, never the packet's say-so.
Whole turns through the service (crash, recovery, redelivery): tests/bot/test_handoff_owner.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import turns
from bot.core.messages import BotReply, InboundMessage
from bot.persistence import claims, handoffs, replies, rows, states
from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Handoff,
    HandoffStatus,
    Message,
    ReviewItem,
    Sender,
    StaffRole,
    TurnState,
)
from crm.services.conversations import PRIORITY_COMPLAINT, PRIORITY_VERIFICATION_FAILED, PRIORITY_VIP
from tests.bot.staff_support import create_staff
from tests.factories import make_customer, make_order

PACKET: dict[str, Any] = {
    "reason": "request_human",
    "intent": "track_order",
    "slots": {"order_number": "1043", "email": "ada.lovelace@example.com"},
    "order_numbers": ["1043"],
    "customer_id": "C001",
}
HANDOFF_TURN = [BotReply(text="Passing you to a person."), BotReply(custom={"handoff": PACKET})]


def _start(unit: Callable[..., Any], *, customer: str | None = None, address: str = "addr") -> Any:
    return unit(
        rows.create_conversation, channel="web", address=address, customer_external_id=customer, locale="en"
    )


def _ask(unit: Callable[..., Any], conversation_id: str, text: str, number: int = 1) -> int:
    claim = unit(
        claims.claim_inbound,
        inbound=InboundMessage(
            channel="web", conversation_id=conversation_id, channel_message_id=f"m{number}", text=text
        ),
    )
    assert claim is not None
    return int(claim.message_id)


def _save(
    unit: Callable[..., Any], conversation_id: str, answer: list[BotReply] = HANDOFF_TURN
) -> replies.SavedReplies:
    return unit(replies.save_bot_replies, conversation_id=conversation_id, channel="web", replies=answer)


def _handoffs(db: sessionmaker[Session], conversation_id: str) -> list[Handoff]:
    with db() as session:
        return list(
            session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
            )
        )


def _conversation(db: sessionmaker[Session], conversation_id: str) -> Conversation:
    with db() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        return row


def test_a_packet_is_queued_with_the_move_to_the_queue(
    unit: Callable[..., Any], db: sessionmaker[Session], customer: Customer
) -> None:
    conversation = _start(unit)
    _ask(unit, conversation.id, "where is my order 1043, i need a person")
    saved = _save(unit, conversation.id)

    [handoff] = _handoffs(db, conversation.id)
    assert (handoff.reason, handoff.intent, handoff.status, handoff.priority) == (
        "request_human",
        "track_order",
        HandoffStatus.queued,
        0,
    )
    assert handoff.slots == PACKET["slots"] and handoff.order_numbers == ["1043"]
    assert (handoff.verified, handoff.customer_id) == (True, customer.id)
    row = _conversation(db, conversation.id)
    assert (row.state, row.customer_id) == (ConversationState.queued, customer.id)
    assert saved.handoff and not saved.suppressed
    assert saved.queued == handoffs.QueuedHandoff(
        id=handoff.id, reason="request_human", priority=0, verified=True, new=True
    )
    assert [m.text for m in saved.visible] == ["Passing you to a person."]
    # The transcript keeps the signal, not what the customer typed into the slots.
    with db() as session:
        signal = session.scalars(
            select(Message.data).where(
                Message.conversation_id == conversation.id, Message.sender == Sender.bot
            )
        ).all()[-1]
        assert signal == {
            "custom": {
                "handoff": {"id": handoff.id, "reason": "request_human", "priority": 0, "verified": True}
            }
        }
        # The customer's last words go to the review queue, as before.
        assert session.scalars(select(ReviewItem.reason)).all() == ["before_handoff"]


def test_the_same_turn_stored_again_queues_nothing_more(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    first = _save(unit, conversation.id)
    again = _save(unit, conversation.id)
    assert first.handoff and first.queued is not None
    assert again.suppressed and not again.handoff and again.queued is None
    assert [h.id for h in _handoffs(db, conversation.id)] == [first.queued.id]


def test_two_packets_in_one_turn_are_one_handoff(unit: Callable[..., Any], db: sessionmaker[Session]) -> None:
    conversation = _start(unit)
    saved = _save(
        unit, conversation.id, [*HANDOFF_TURN, BotReply(custom={"handoff": {"reason": "fallback"}})]
    )
    [handoff] = _handoffs(db, conversation.id)
    assert saved.queued is not None and saved.queued.id == handoff.id and handoff.reason == "request_human"


def test_a_turn_written_behind_queues_its_handoff_once(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    # The database refused the replies mid-turn; the recovery pass writes them down later,
    # and a pass that dies before it learns the write committed writes them again.
    conversation = _start(unit)
    message_id = _ask(unit, conversation.id, "a person please")
    owed = turns.Owed(message_id, conversation.id, "web", TurnState.answered, answer=tuple(HANDOFF_TURN))
    unit(turns.write_owed, owed=owed)
    unit(turns.write_owed, owed=owed)
    [handoff] = _handoffs(db, conversation.id)
    assert handoff.status == HandoffStatus.queued
    assert _conversation(db, conversation.id).state == ConversationState.queued
    assert unit(turns.state_of, message_id=message_id) == TurnState.answered


def test_an_open_handoff_gets_no_second_row(unit: Callable[..., Any], db: sessionmaker[Session]) -> None:
    conversation = _start(unit)
    with db() as session:
        session.add(
            Handoff(
                conversation_id=conversation.id, reason="fallback", priority=3, slots={}, order_numbers=[]
            )
        )
        session.commit()
    [existing] = _handoffs(db, conversation.id)
    saved = _save(unit, conversation.id)
    assert saved.handoff and saved.queued == handoffs.QueuedHandoff(
        id=existing.id, reason="fallback", priority=3, verified=False, new=False
    )
    assert [h.id for h in _handoffs(db, conversation.id)] == [existing.id]
    assert _conversation(db, conversation.id).state == ConversationState.queued


def test_a_person_who_took_over_during_the_turn_keeps_their_packet(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    sam = create_staff(db, name="Sam Carter", role=StaffRole.agent)
    unit(states.assign_conversation, conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    saved = _save(unit, conversation.id)
    assert saved.suppressed and not saved.handoff and saved.visible == []
    [handoff] = _handoffs(db, conversation.id)
    assert (handoff.reason, handoff.status, handoff.assigned_to_id) == (
        "staff_takeover",
        HandoffStatus.assigned,
        sam,
    )
    assert _conversation(db, conversation.id).state == ConversationState.assigned


def test_a_conversation_erased_during_the_turn_gets_no_handoff(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    with db() as session:
        session.execute(delete(Conversation).where(Conversation.id == conversation.id))
        session.commit()
    saved = _save(unit, conversation.id)
    assert not saved.handoff and saved.queued is None
    assert [m.text for m in saved.visible] == ["Passing you to a person."]
    assert _handoffs(db, conversation.id) == []
    assert unit(handoffs.queue_handoff, conversation_id=conversation.id, packet=PACKET) is None


def test_no_queue_row_no_move_to_the_queue(
    unit: Callable[..., Any], db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One transaction: if the queue row cannot be written, neither the state nor the replies are.
    conversation = _start(unit)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(handoffs.conversations, "record_handoff", refuse)
    with pytest.raises(OperationalError):
        _save(unit, conversation.id)
    assert _conversation(db, conversation.id).state == ConversationState.bot
    with db() as session:
        assert session.scalars(select(Message).where(Message.conversation_id == conversation.id)).all() == []
    assert _handoffs(db, conversation.id) == []


# -- priority: as before, and the gateway's to compute ----------------------------------------


@pytest.mark.parametrize(
    ("reason", "intent", "vip", "priority"),
    [
        ("request_human", "request_human", False, 0),
        ("complaint", "complaint", False, PRIORITY_COMPLAINT),
        ("fallback", "complaint", False, PRIORITY_COMPLAINT),
        ("request_human", None, True, PRIORITY_VIP),
        ("verification_failed", "track_order", False, PRIORITY_VERIFICATION_FAILED),
        ("complaint", "complaint", True, PRIORITY_COMPLAINT + PRIORITY_VIP),
        ("verification_failed", None, True, PRIORITY_VERIFICATION_FAILED + PRIORITY_VIP),
    ],
)
def test_priority_as_before(
    unit: Callable[..., Any],
    db: sessionmaker[Session],
    reason: str,
    intent: str | None,
    vip: bool,
    priority: int,
) -> None:
    with db() as session:
        someone = make_customer(session, external_id="CPRIO")
        make_order(session, customer=someone, total="900.00" if vip else "20.00")
        session.commit()
    conversation = _start(unit)
    packet = {"reason": reason, "intent": intent, "customer_id": "CPRIO"}
    saved = _save(unit, conversation.id, [BotReply(custom={"handoff": packet})])
    [handoff] = _handoffs(db, conversation.id)
    assert handoff.priority == priority
    assert saved.queued is not None and saved.queued.priority == priority


def test_the_packets_own_priority_and_verified_flag_count_for_nothing(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    old_shape = {"id": 7, "reason": "request_human", "priority": 99, "verified": True}
    _save(unit, conversation.id, [BotReply(custom={"handoff": old_shape})])
    [handoff] = _handoffs(db, conversation.id)
    assert (handoff.priority, handoff.verified, handoff.customer_id) == (0, False, None)


def test_an_unknown_customer_is_not_verified_and_links_nothing(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    _save(unit, conversation.id, [BotReply(custom={"handoff": {**PACKET, "customer_id": "NOBODY"}})])
    [handoff] = _handoffs(db, conversation.id)
    assert (handoff.verified, handoff.customer_id) == (False, None)
    assert _conversation(db, conversation.id).customer_id is None


def test_a_malformed_packet_is_queued_with_what_makes_sense(
    unit: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    conversation = _start(unit)
    packet = {
        "reason": 5,
        "intent": ["track_order"],
        "slots": {"product": "x" * 5000, "nested": {"a": 1}, "count": 2, "gift": False},
        "order_numbers": [1043, "", "2207", None] + [f"9{i:03d}" for i in range(30)],
        "customer_id": {"id": "C001"},
    }
    _save(unit, conversation.id, [BotReply(custom={"handoff": packet})])
    [handoff] = _handoffs(db, conversation.id)
    assert (handoff.reason, handoff.intent, handoff.verified) == ("request_human", None, False)
    assert handoff.slots == {"product": "x" * 200, "count": 2, "gift": False}
    assert len(handoff.order_numbers) == 20 and handoff.order_numbers[-1] == "9029"
