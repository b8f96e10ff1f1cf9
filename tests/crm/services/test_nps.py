"""NPS, asked well: after a good ending, once per 90 days, never just after a complaint; erased with the customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Feedback, NpsInvitation, ReviewItem
from crm.services import nps, review
from crm.services.customers import erase_customer
from tests.factories import make_conversation, make_customer, make_feedback, make_handoff, make_message, make_order

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_what_counts_as_ending_well(session: Session) -> None:
    ada = make_customer(session)
    assert nps.ended_well(session, customer=ada, csat=5, resolved=False, now=NOW)
    assert nps.ended_well(session, customer=ada, csat=None, resolved=True, now=NOW)
    assert not nps.ended_well(session, customer=ada, csat=2, resolved=True, now=NOW)
    assert not nps.ended_well(session, customer=ada, csat=3, resolved=False, now=NOW)
    make_order(session, customer=ada, status="delivered", delivered_at=NOW - timedelta(days=3))
    assert nps.ended_well(session, customer=ada, csat=3, resolved=False, now=NOW)
    assert not nps.ended_well(session, customer=None, csat=None, resolved=False, now=NOW)


def test_once_every_90_days(session: Session) -> None:
    ada = make_customer(session)
    assert not nps.may_ask(session, customer=None, now=NOW)  # nobody to count for
    assert nps.may_ask(session, customer=ada, now=NOW)
    nps.record_invitation(session, customer=ada, conversation_id="c1", channel="web", now=NOW)
    assert not nps.may_ask(session, customer=ada, now=NOW + timedelta(days=89, hours=23))
    assert nps.may_ask(session, customer=ada, now=NOW + timedelta(days=90))


def test_never_within_24_hours_of_a_complaint(session: Session) -> None:
    ada, bo, cy = make_customer(session), make_customer(session), make_customer(session)
    handoff = make_handoff(session, conversation=make_conversation(session, customer=ada), customer=ada, reason="complaint")
    handoff.created_at = NOW - timedelta(hours=23)
    said = make_message(session, conversation=make_conversation(session, customer=bo), text="this is a disgrace")
    said.intent, said.created_at = "complaint", NOW - timedelta(hours=2)
    make_feedback(session, conversation_id="c-cy", customer=cy, score=1).created_at = NOW - timedelta(hours=20)
    session.flush()
    assert not nps.may_ask(session, customer=ada, now=NOW)
    assert not nps.may_ask(session, customer=bo, now=NOW)
    assert not nps.may_ask(session, customer=cy, now=NOW)
    later = NOW + timedelta(hours=25)
    assert nps.may_ask(session, customer=ada, now=later)
    assert nps.may_ask(session, customer=bo, now=later)
    assert nps.may_ask(session, customer=cy, now=later)


def test_the_answer_is_stored_with_channel_and_time_once(session: Session) -> None:
    ada = make_customer(session)
    first = nps.record_answer(session, customer=ada, conversation_id="c9", channel="sms", score=9, reason=None)
    again = nps.record_answer(session, customer=ada, conversation_id="c9", channel="sms", score=3, reason="kind staff")
    assert first.id == again.id
    assert (first.kind, first.score, first.channel, first.comment) == ("nps", 9, "sms", "kind staff")
    assert first.created_at is not None


def test_erasure_takes_the_answers_and_the_invitations(session: Session) -> None:
    ada = make_customer(session)
    conversation = make_conversation(session, customer=ada)
    nps.record_invitation(session, customer=ada, conversation_id=conversation.id, channel="web", now=NOW)
    nps.record_answer(session, customer=ada, conversation_id=conversation.id, channel="web", score=10, reason="great")
    lost = make_message(session, conversation=conversation, text="my email is ada@example.com")
    review.record_reading(session, message_id=lost.id, intent="nlu_fallback", confidence=0.1, ranking=[], threshold=0.5)
    assert session.scalar(select(func.count()).select_from(ReviewItem)) == 1
    erase_customer(session, customer=ada, actor="staff:1")
    assert session.scalar(select(func.count()).select_from(NpsInvitation)) == 0
    assert session.scalar(select(func.count()).select_from(Feedback)) == 0
    assert session.scalar(select(func.count()).select_from(ReviewItem)) == 0
