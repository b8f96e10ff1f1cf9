"""Back with the bot after staff resolved a handoff: asked how it went, about that person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.feedback import THANKS, ActionSubmitFeedback
from actions.handoff_resume import NOT_UNDERSTOOD, ActionResumeAfterHandoff, staff_rating_given
from crm.clock import utcnow
from crm.models import Conversation, Feedback, HandoffStatus, Message, Sender
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
)
from tests.factories import make_conversation, make_handoff, make_staff_user

pytestmark = pytest.mark.usefixtures("crm")


def resolved_by(
    session: Session,
    conversation_id: str,
    *,
    name: str = "Sam Carter",
    minutes_ago: float = 0.1,
    wrote: bool = True,
) -> int:
    staff = make_staff_user(session, name=name)
    conversation = make_conversation(session, conversation_id=conversation_id)
    handoff = make_handoff(session, conversation=conversation, status=HandoffStatus.resolved)
    handoff.resolved_by_id = staff.id
    handoff.resolved_at = utcnow() - timedelta(minutes=minutes_ago)
    if wrote:
        session.add(
            Message(
                conversation_id=conversation_id,
                channel="web",
                sender=Sender.agent,
                text="Happy to help!",
                staff_user_id=staff.id,
            )
        )
    session.flush()
    return staff.id


def trigger(conversation_id: str, staff_id: int | str | None) -> object:
    entities = [] if staff_id is None else [{"entity": "staff_user_id", "value": str(staff_id)}]
    return make_tracker(
        text="EXTERNAL: handoff_resolved",
        intent="handoff_resolved",
        entities=entities,
        sender_id=conversation_id,
    )


def test_after_a_resolve_the_bot_thanks_by_name_and_starts_the_rating_about_that_person(
    session: Session,
) -> None:
    sam = resolved_by(session, "conv-resume")
    events, messages = run_action(ActionResumeAfterHandoff(), trigger("conv-resume", sam))
    assert texts(messages) == "Thanks for chatting with Sam! You're back with our assistant now."
    assert slot_events(events) == {
        "rated_staff_user_id": str(sam),
        "ask_feedback": True,
        "feedback_asked": True,
        "feedback_score": None,
        "feedback_comment": None,
        "feedback_retries": 0.0,
    }


@pytest.mark.parametrize("case", ["no_handoff", "wrong_person", "no_entity", "long_ago"])
def test_a_handoff_resolved_the_crm_does_not_know_of_asks_nothing(session: Session, case: str) -> None:
    conversation_id = f"conv-stray-{case}"
    if case == "no_handoff":
        make_conversation(session, conversation_id=conversation_id)
        named: int | str | None = 1
    else:
        sam = resolved_by(session, conversation_id, minutes_ago=60 if case == "long_ago" else 0.1)
        named = {"wrong_person": sam + 1000, "no_entity": None, "long_ago": sam}[case]
    events, messages = run_action(ActionResumeAfterHandoff(), trigger(conversation_id, named))
    assert texts(messages) == NOT_UNDERSTOOD
    assert slot_events(events) == {"ask_feedback": False, "rated_staff_user_id": None}


def test_the_rating_is_stored_with_the_person_even_after_an_earlier_rating_of_the_bot(
    session: Session,
) -> None:
    sam = resolved_by(session, "conv-rated")
    # The customer had rated the bot earlier in this conversation.
    session.add(Feedback(conversation_id="conv-rated", score=3, created_at=utcnow() - timedelta(hours=1)))
    session.flush()
    tracker = make_tracker(
        slots={
            "feedback_score": "5",
            "feedback_comment": "Sam was brilliant",
            "rated_staff_user_id": str(sam),
        },
        sender_id="conv-rated",
    )
    events, messages = run_action(ActionSubmitFeedback(), tracker)
    assert texts(messages) == THANKS
    assert slot_events(events)["rated_staff_user_id"] is None
    rows = session.scalars(
        select(Feedback).where(Feedback.conversation_id == "conv-rated").order_by(Feedback.id)
    ).all()
    assert [(r.score, r.staff_user_id) for r in rows] == [(3, None), (5, sam)]
    assert staff_rating_given(session, conversation_id="conv-rated", staff_user_id=sam)
    # Asked again (a replayed trigger): already rated, so the bot only says it is back.
    events, messages = run_action(ActionResumeAfterHandoff(), trigger("conv-rated", sam))
    assert slot_events(events)["ask_feedback"] is False
    run_action(ActionSubmitFeedback(), tracker)
    assert len(session.scalars(select(Feedback).where(Feedback.staff_user_id == sam)).all()) == 1


def test_a_second_handoff_to_the_same_person_can_be_rated_again(session: Session) -> None:
    sam = resolved_by(session, "conv-twice", minutes_ago=30)
    session.add(
        Feedback(
            conversation_id="conv-twice",
            score=2,
            staff_user_id=sam,
            created_at=utcnow() - timedelta(minutes=20),
        )
    )
    conversation = session.get(Conversation, "conv-twice")
    assert conversation is not None
    later = make_handoff(session, conversation=conversation, status=HandoffStatus.resolved)
    later.resolved_by_id = sam
    later.resolved_at = utcnow()
    session.flush()
    session.add(
        Message(
            conversation_id="conv-twice",
            channel="web",
            sender=Sender.agent,
            text="Back again!",
            staff_user_id=sam,
        )
    )
    session.flush()
    assert not staff_rating_given(session, conversation_id="conv-twice", staff_user_id=sam)
    events, _ = run_action(ActionResumeAfterHandoff(), trigger("conv-twice", sam))
    assert slot_events(events)["ask_feedback"] is True


def test_closed_without_a_word_to_the_customer_there_is_nobody_to_rate(session: Session) -> None:
    robin = resolved_by(session, "conv-cleared", name="Robin Admin", wrote=False)
    events, messages = run_action(ActionResumeAfterHandoff(), trigger("conv-cleared", robin))
    assert texts(messages) == "Thanks for your patience! You're back with our assistant now."
    assert slot_events(events) == {"ask_feedback": False, "rated_staff_user_id": None}
