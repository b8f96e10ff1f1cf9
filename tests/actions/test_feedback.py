"""How did we do? Asking once, reading the answer, storing it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.feedback import (
    ALREADY_GIVEN,
    ASK_SCORE,
    GIVE_UP,
    GO_AHEAD,
    NOT_A_SCORE,
    OUT_OF_RANGE,
    SKIP_THANKS,
    SKIPPED,
    SORRY_LOW,
    THANKS,
    ActionAskFeedbackScore,
    ActionCheckFeedback,
    ActionSubmitFeedback,
    ValidateFeedbackForm,
)
from crm.models import Feedback, HandoffStatus
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
)
from tests.factories import (
    make_conversation,
    make_customer,
    make_feedback,
    make_handoff,
    make_staff_user,
)

pytestmark = pytest.mark.usefixtures("crm")

RESOLVED = {"resolved_request": "track_order", "feedback_asked": False}


def _feedback_rows(session: Session, conversation_id: str) -> list[Feedback]:
    session.expire_all()
    return list(session.scalars(select(Feedback).where(Feedback.conversation_id == conversation_id)))


# -- the check: ask or close -----------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "text", "lead_in"),
    [
        ("thank", "thanks a lot", "You're welcome!"),
        ("goodbye", "bye", "Before you go"),
        ("deny", "no", "Great."),
    ],
)
def test_after_a_resolved_request_the_bot_asks_once(intent: str, text: str, lead_in: str) -> None:
    events, messages = run_action(
        ActionCheckFeedback(), make_tracker(text=text, intent=intent, slots=RESOLVED)
    )
    slots = slot_events(events)
    assert slots["ask_feedback"] is True
    assert slots["feedback_asked"] is True
    assert slots["feedback_score"] is None
    assert texts(messages).startswith(lead_in)


@pytest.mark.parametrize(
    ("intent", "closing"),
    [("thank", "You're welcome!"), ("goodbye", "Bye for now"), ("deny", "Alright!")],
)
def test_nothing_resolved_means_no_question(intent: str, closing: str) -> None:
    events, messages = run_action(
        ActionCheckFeedback(), make_tracker(text="ok", intent=intent, slots={"resolved_request": None})
    )
    assert slot_events(events) == {"ask_feedback": False}
    assert texts(messages).startswith(closing)


def test_never_asked_twice_in_a_session() -> None:
    slots = {**RESOLVED, "feedback_asked": True}
    events, _ = run_action(ActionCheckFeedback(), make_tracker(text="thanks", intent="thank", slots=slots))
    assert slot_events(events) == {"ask_feedback": False}


def test_never_asked_when_the_crm_already_has_a_rating(session: Session) -> None:
    make_feedback(session, conversation_id="conv-rated", score=4)
    tracker = make_tracker(text="thanks", intent="thank", slots=RESOLVED, sender_id="conv-rated")
    events, messages = run_action(ActionCheckFeedback(), tracker)
    assert slot_events(events) == {"ask_feedback": False}
    assert "How did we do" not in texts(messages)


def test_give_feedback_works_any_time_even_after_a_skipped_question() -> None:
    tracker = make_tracker(
        text="i want to leave feedback", intent="give_feedback", slots={"feedback_asked": True}
    )
    events, _ = run_action(ActionCheckFeedback(), tracker)
    assert slot_events(events)["ask_feedback"] is True


def test_give_feedback_with_a_rating_fills_the_first_question() -> None:
    tracker = make_tracker(
        text="i want to give you 5 stars",
        intent="give_feedback",
        entities=[{"entity": "rating", "value": "5"}],
    )
    events, _ = run_action(ActionCheckFeedback(), tracker)
    assert slot_events(events)["feedback_score"] == "5"


def test_give_feedback_twice_is_thanked_not_stored_again(session: Session) -> None:
    make_feedback(session, conversation_id="conv-twice", score=5)
    tracker = make_tracker(text="can i rate this chat", intent="give_feedback", sender_id="conv-twice")
    events, messages = run_action(ActionCheckFeedback(), tracker)
    assert slot_events(events) == {"ask_feedback": False}
    assert texts(messages) == ALREADY_GIVEN


def test_the_question_has_one_button_per_score() -> None:
    _, messages = run_action(ActionAskFeedbackScore(), make_tracker())
    assert messages[0]["text"] == ASK_SCORE
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        f'/inform{{"rating":"{n}"}}' for n in range(1, 6)
    ]


# -- reading the score and the comment ---------------------------------------------


def _validate(
    slot: str,
    text: str,
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """Run the form's validation as Rasa does: the new value trails the user message."""
    tracker = make_tracker(
        text=text,
        intent=intent,
        entities=entities,
        slots={"requested_slot": slot, **(slots or {})},
        trailing=[{"event": "slot", "name": slot, "value": text}],
        active_loop={"name": "feedback_form"},
    )
    events, messages = run_action(ValidateFeedbackForm(), tracker)
    return slot_events(events), texts(messages)


def test_starting_the_form_validates_nothing_the_check_only_reset() -> None:
    """When the form starts, Rasa hands the validation the check's trailing
    slot resets; "thanks" must not be taken as a score or a comment."""
    resets = [
        {"event": "slot", "name": name, "value": value}
        for name, value in [("ask_feedback", True), ("feedback_asked", True), ("feedback_score", None),
                            ("feedback_comment", None), ("feedback_retries", 0.0)]
    ]
    tracker = make_tracker(text="thanks", intent="thank", slots={"resolved_request": "track_order"},
                           trailing=resets, active_loop={"name": "feedback_form"})
    events, messages = run_action(ValidateFeedbackForm(), tracker)
    assert messages == []
    assert "feedback_comment" not in slot_events(events) or slot_events(events)["feedback_comment"] is None
    assert slot_events(events).get("feedback_score") is None


def test_a_button_press_is_read_from_the_entity() -> None:
    rating = [{"entity": "rating", "value": "5"}]
    slots, said = _validate("feedback_score", '/inform{"rating":"5"}', entities=rating)
    assert slots["feedback_score"] == "5"
    assert said == ""


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("4", 4),
        ("4 stars", 4),
        ("four", 4),
        ("a solid four", 4),
        ("4 out of 5", 4),
        ("i'd say 3/5", 3),
        ("2 star", 2),
    ],
)
def test_typed_scores_are_understood(text: str, score: int) -> None:
    slots, said = _validate("feedback_score", text)
    assert slots["feedback_score"] == str(score)
    assert said == ""


def test_out_of_range_gets_a_clear_reask() -> None:
    slots, said = _validate("feedback_score", "10/10")
    assert slots["feedback_score"] is None
    assert slots["feedback_retries"] == 1
    assert said == OUT_OF_RANGE


def test_a_five_thousand_character_answer_is_not_a_score() -> None:
    slots, said = _validate("feedback_score", "great service " * 357 + "x" * 2)
    assert slots["feedback_score"] is None
    assert said == NOT_A_SCORE


def test_two_unreadable_answers_end_the_question() -> None:
    slots, said = _validate("feedback_score", "hmm it was ok", slots={"feedback_retries": 1.0})
    assert slots["feedback_score"] == SKIPPED
    assert slots["feedback_comment"] == SKIPPED
    assert said == GIVE_UP


@pytest.mark.parametrize(
    ("text", "intent"), [("no thanks", "deny"), ("skip", "inform"), ("rather not", "deny")]
)
def test_declining_to_rate_skips_both_questions(text: str, intent: str) -> None:
    slots, _ = _validate("feedback_score", text, intent=intent)
    assert slots == {"feedback_score": SKIPPED, "feedback_comment": SKIPPED}


@pytest.mark.parametrize("text", ["/deny", "no", "skip", "nothing"])
def test_the_comment_is_optional(text: str) -> None:
    slots, _ = _validate("feedback_comment", text, intent="deny" if text == "/deny" else "inform")
    assert slots["feedback_comment"] == SKIPPED


def test_yes_to_the_comment_question_waits_for_the_comment() -> None:
    slots, said = _validate("feedback_comment", "yes", intent="affirm")
    assert slots["feedback_comment"] is None
    assert said == GO_AHEAD


def test_a_comment_is_kept_as_typed() -> None:
    slots, _ = _validate("feedback_comment", "Quick and friendly, thank you!")
    assert slots["feedback_comment"] == "Quick and friendly, thank you!"


# -- storing it ---------------------------------------------------------------------


def test_a_rating_is_stored_for_the_verified_customer_and_conversation(session: Session) -> None:
    customer = make_customer(session, external_id="CFB1")
    tracker = make_tracker(
        text="Quick and friendly",
        metadata={"customer_id": "CFB1", "channel": "web"},
        slots={"feedback_score": "5", "feedback_comment": "Quick and friendly", "ask_feedback": True},
        sender_id="conv-fb-1",
    )
    events, messages = run_action(ActionSubmitFeedback(), tracker)
    [row] = _feedback_rows(session, "conv-fb-1")
    assert (row.score, row.comment, row.customer_id, row.kind) == (
        5, "Quick and friendly", customer.id, "csat",
    )
    assert texts(messages) == THANKS
    assert slot_events(events)["ask_feedback"] is False


def test_an_anonymous_rating_is_stored_without_a_customer(session: Session) -> None:
    tracker = make_tracker(
        slots={"feedback_score": "4", "feedback_comment": SKIPPED}, sender_id="conv-fb-anon"
    )
    run_action(ActionSubmitFeedback(), tracker)
    [row] = _feedback_rows(session, "conv-fb-anon")
    assert (row.score, row.comment, row.customer_id) == (4, None, None)


def test_a_typed_e_mail_does_not_attach_the_rating_to_a_customer(session: Session) -> None:
    make_customer(session, external_id="CFB9", email="someone@example.com")
    tracker = make_tracker(
        text="someone@example.com",
        slots={
            "feedback_score": "4",
            "feedback_comment": SKIPPED,
            "email": "someone@example.com",
            "customer_id": "CFB9",
            "verified": False,
        },
        sender_id="conv-fb-claim",
    )
    run_action(ActionSubmitFeedback(), tracker)
    [row] = _feedback_rows(session, "conv-fb-claim")
    assert row.customer_id is None


def test_a_low_score_is_met_with_an_apology_and_a_person(session: Session) -> None:
    tracker = make_tracker(
        slots={"feedback_score": "1", "feedback_comment": "slow"}, sender_id="conv-fb-low"
    )
    _, messages = run_action(ActionSubmitFeedback(), tracker)
    assert messages[0]["text"] == SORRY_LOW
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert _feedback_rows(session, "conv-fb-low")[0].score == 1


def test_a_skipped_rating_stores_nothing(session: Session) -> None:
    tracker = make_tracker(
        slots={"feedback_score": SKIPPED, "feedback_comment": SKIPPED}, sender_id="conv-fb-skip"
    )
    _, messages = run_action(ActionSubmitFeedback(), tracker)
    assert texts(messages) == SKIP_THANKS
    assert _feedback_rows(session, "conv-fb-skip") == []


def test_submitting_twice_stores_one_rating(session: Session) -> None:
    tracker = make_tracker(
        slots={"feedback_score": "3", "feedback_comment": SKIPPED}, sender_id="conv-fb-dup"
    )
    run_action(ActionSubmitFeedback(), tracker)
    run_action(ActionSubmitFeedback(), tracker)
    assert len(_feedback_rows(session, "conv-fb-dup")) == 1


def test_a_five_thousand_character_comment_is_kept_whole(session: Session) -> None:
    comment = ("The parcel came late but the tea is lovely. " * 120)[:5000]
    tracker = make_tracker(
        slots={"feedback_score": "4", "feedback_comment": comment}, sender_id="conv-fb-long"
    )
    run_action(ActionSubmitFeedback(), tracker)
    assert _feedback_rows(session, "conv-fb-long")[0].comment == comment.strip()


def test_a_rating_after_a_resolved_handoff_names_the_staff_member(session: Session) -> None:
    agent = make_staff_user(session)
    conversation = make_conversation(session, conversation_id="conv-fb-staff")
    handoff = make_handoff(session, conversation=conversation, status=HandoffStatus.resolved)
    handoff.resolved_by_id = agent.id
    session.flush()
    tracker = make_tracker(
        slots={"feedback_score": "5", "feedback_comment": SKIPPED}, sender_id="conv-fb-staff"
    )
    run_action(ActionSubmitFeedback(), tracker)
    assert _feedback_rows(session, "conv-fb-staff")[0].staff_user_id == agent.id


# -- a score counts the moment it is given ----------------------------------------


def test_the_score_is_stored_as_soon_as_it_is_given(session: Session) -> None:
    """A customer who taps "5" and closes the chat has still rated us."""
    customer = make_customer(session, external_id="CFB20")
    tracker = make_tracker(
        text='/inform{"rating":"5"}',
        intent="inform",
        entities=[{"entity": "rating", "value": "5"}],
        metadata={"customer_id": "CFB20", "channel": "web"},
        slots={"requested_slot": "feedback_score"},
        trailing=[{"event": "slot", "name": "feedback_score", "value": '/inform{"rating":"5"}'}],
        active_loop={"name": "feedback_form"},
        sender_id="conv-fb-early",
    )
    events, _ = run_action(ValidateFeedbackForm(), tracker)
    [row] = _feedback_rows(session, "conv-fb-early")
    assert (row.score, row.comment, row.customer_id) == (5, None, customer.id)
    assert slot_events(events)["feedback_id"] == str(row.id)


def test_the_comment_is_added_to_the_stored_score_not_stored_again(session: Session) -> None:
    make_customer(session, external_id="CFB21")
    validate = make_tracker(
        text="4",
        metadata={"customer_id": "CFB21", "channel": "web"},
        slots={"requested_slot": "feedback_score"},
        trailing=[{"event": "slot", "name": "feedback_score", "value": "4"}],
        active_loop={"name": "feedback_form"},
        sender_id="conv-fb-comment",
    )
    feedback_id = slot_events(run_action(ValidateFeedbackForm(), validate)[0])["feedback_id"]
    submit = make_tracker(
        text="Lovely tea",
        metadata={"customer_id": "CFB21", "channel": "web"},
        slots={"feedback_score": "4", "feedback_comment": "Lovely tea", "feedback_id": feedback_id},
        sender_id="conv-fb-comment",
    )
    events, messages = run_action(ActionSubmitFeedback(), submit)
    [row] = _feedback_rows(session, "conv-fb-comment")
    assert (row.score, row.comment) == (4, "Lovely tea")
    assert texts(messages) == THANKS
    assert slot_events(events)["feedback_id"] is None
