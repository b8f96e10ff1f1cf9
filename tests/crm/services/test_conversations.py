"""crm.services.conversations: conversation rows, handoffs, feedback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Conversation, ConversationState, Feedback, Handoff, HandoffStatus
from crm.services import (
    feedback_given,
    link_customer,
    open_handoff,
    record_feedback,
    record_handoff,
)
from tests.factories import make_conversation, make_customer, make_handoff, make_order, make_staff_user


def test_link_customer_fills_a_missing_customer_only(session: Session) -> None:
    amy, ben = make_customer(session), make_customer(session)
    conversation = make_conversation(session, conversation_id="c-2", channel="web")
    assert link_customer(session, conversation_id="c-2", customer=amy) is conversation
    assert conversation.customer_id == amy.id
    link_customer(session, conversation_id="c-2", customer=ben)
    assert conversation.customer_id == amy.id
    assert (conversation.channel, conversation.state) == ("web", ConversationState.bot)


def test_link_customer_never_creates_a_conversation(session: Session) -> None:
    # Conversation rows are the gateway's to create (bot/persistence/rows.py).
    assert link_customer(session, conversation_id="c-missing", customer=make_customer(session)) is None
    assert session.scalar(select(func.count(Conversation.id)).where(Conversation.id == "c-missing")) == 0


def test_open_handoff_is_the_newest_one_not_resolved(session: Session) -> None:
    conversation = make_conversation(session)
    assert open_handoff(session, conversation_id=conversation.id) is None
    make_handoff(session, conversation=conversation, status=HandoffStatus.resolved)
    assert open_handoff(session, conversation_id=conversation.id) is None
    queued = make_handoff(session, conversation=conversation)
    assert open_handoff(session, conversation_id=conversation.id) is queued
    assigned = make_handoff(session, conversation=conversation, status=HandoffStatus.assigned)
    assert open_handoff(session, conversation_id=conversation.id) is assigned


def _vip(session: Session):  # type: ignore[no-untyped-def]
    customer = make_customer(session)
    make_order(session, customer=customer, total="900.00")
    return customer


@pytest.mark.parametrize(
    ("reason", "intent", "vip", "priority"),
    [
        ("request_human", "request_human", False, 0),
        ("complaint", "complain", False, 10),
        ("fallback", "complaint", False, 10),
        ("request_human", None, True, 10),
        ("verification_failed", "check_order", False, 5),
        ("complaint", "complain", True, 20),
        ("verification_failed", None, True, 15),
    ],
)
def test_handoff_priority(session: Session, reason: str, intent: str | None, vip: bool, priority: int) -> None:
    customer = _vip(session) if vip else make_customer(session)
    conversation = make_conversation(session)
    handoff = record_handoff(
        session,
        conversation_id=conversation.id,
        customer=customer,
        reason=reason,
        intent=intent,
        slots={},
        order_numbers=[],
        verified=vip,
    )
    assert handoff is not None and handoff.priority == priority


def test_record_handoff_keeps_the_packet_and_leaves_the_state_alone(session: Session) -> None:
    customer = make_customer(session)
    conversation = make_conversation(session, conversation_id="h-1", channel="sms", customer=customer)
    handoff = record_handoff(
        session,
        conversation_id="h-1",
        customer=customer,
        reason="request_human",
        intent="request_human",
        slots={"order_number": "1043", "verified": True},
        order_numbers=["1043"],
        verified=True,
    )
    assert handoff is not None and handoff.id is not None
    assert (handoff.conversation_id, handoff.customer_id, handoff.status) == ("h-1", customer.id, HandoffStatus.queued)
    assert handoff.slots == {"order_number": "1043", "verified": True}
    assert handoff.order_numbers == ["1043"] and handoff.verified is True
    assert conversation.state == ConversationState.bot


def test_record_handoff_creates_no_conversation(session: Session) -> None:
    handoff = record_handoff(
        session,
        conversation_id="h-new",
        customer=None,
        reason="fallback",
        intent=None,
        slots={},
        order_numbers=[],
        verified=False,
    )
    assert handoff is None
    assert session.get(Conversation, "h-new") is None
    assert session.scalar(select(func.count(Handoff.id)).where(Handoff.conversation_id == "h-new")) == 0


def test_record_feedback(session: Session) -> None:
    customer = make_customer(session)
    staff = make_staff_user(session)
    csat = record_feedback(session, conversation_id="f-1", customer=customer, score=4, comment="  quick!  ", staff_user_id=staff.id)
    nps = record_feedback(session, conversation_id="f-1", customer=None, score=0, kind="nps", comment="   ")
    assert (csat.kind, csat.score, csat.comment, csat.customer_id, csat.staff_user_id) == ("csat", 4, "quick!", customer.id, staff.id)
    assert (nps.kind, nps.score, nps.comment, nps.customer_id) == ("nps", 0, None, None)


@pytest.mark.parametrize(
    ("kind", "score"),
    [("csat", 0), ("csat", 6), ("nps", -1), ("nps", 11), ("csat", True), ("csat", 4.5), ("csat", "5"), ("stars", 3)],
)
def test_record_feedback_refuses_out_of_range(session: Session, kind: str, score: object) -> None:
    with pytest.raises(ValueError):
        record_feedback(session, conversation_id="f-2", customer=None, score=score, kind=kind)  # type: ignore[arg-type]
    assert session.scalar(select(func.count(Feedback.id)).where(Feedback.conversation_id == "f-2")) == 0


@pytest.mark.parametrize(("kind", "low", "high"), [("csat", 1, 5), ("nps", 0, 10)])
def test_record_feedback_accepts_the_whole_range(session: Session, kind: str, low: int, high: int) -> None:
    for score in (low, high):
        assert record_feedback(session, conversation_id="f-3", customer=None, score=score, kind=kind).score == score


def test_feedback_given(session: Session) -> None:
    assert feedback_given(session, conversation_id="f-4") is False
    record_feedback(session, conversation_id="f-4", customer=None, score=5)
    assert feedback_given(session, conversation_id="f-4") is True
    assert feedback_given(session, conversation_id="f-4", kind="nps") is False
    assert feedback_given(session, conversation_id="f-5") is False


def test_an_unverified_handoff_does_not_link_the_conversation(session: Session) -> None:
    claimed = make_customer(session)
    make_conversation(session, conversation_id="h-claim")
    record_handoff(
        session,
        conversation_id="h-claim",
        customer=claimed,
        reason="request_human",
        intent=None,
        slots={},
        order_numbers=[],
        verified=False,
    )
    conversation = session.get(Conversation, "h-claim")
    assert conversation is not None and conversation.customer_id is None
    record_handoff(
        session,
        conversation_id="h-claim",
        customer=claimed,
        reason="request_human",
        intent=None,
        slots={},
        order_numbers=[],
        verified=True,
    )
    assert conversation.customer_id == claimed.id
