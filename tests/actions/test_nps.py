"""The NPS question after a good rating: who is asked, how it is asked per channel, what is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.feedback import ActionSubmitFeedback
from actions.nps import (
    ASK_SCORE,
    SCORE_BUTTONS,
    SMS_HINT,
    ActionAskNpsScore,
    ActionSubmitNps,
    ValidateNpsForm,
)
from crm.clock import utcnow
from crm.models import Feedback, NpsInvitation
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
)
from tests.factories import make_conversation, make_customer, make_handoff

pytestmark = pytest.mark.usefixtures("crm")


def _rated(external_id: str | None, score: str, sender: str, channel: str = "web") -> list[dict]:  # type: ignore[type-arg]
    metadata = {"channel": channel, **({"customer_id": external_id} if external_id else {})}
    tracker = make_tracker(
        text="no", intent="deny", metadata=metadata, sender_id=sender,
        slots={"feedback_score": score, "feedback_comment": "skipped"},
    )  # fmt: skip
    events, _ = run_action(ActionSubmitFeedback(), tracker)
    return events


def test_a_known_customer_who_rated_well_is_asked_once_in_90_days(session: Session) -> None:
    make_customer(session, external_id="CNPS1")
    assert slot_events(_rated("CNPS1", "5", "conv-nps-1"))["ask_nps"] is True
    [invitation] = session.scalars(select(NpsInvitation)).all()
    assert (invitation.conversation_id, invitation.channel) == ("conv-nps-1", "web")
    assert slot_events(_rated("CNPS1", "5", "conv-nps-2"))["ask_nps"] is False


@pytest.mark.parametrize(("who", "score"), [(None, "5"), ("CNPS2", "2"), ("CNPS2", "3"), ("CNPS2", "skipped")])
def test_not_asked_of_strangers_or_after_a_poor_or_middling_rating(
    session: Session, who: str | None, score: str
) -> None:
    make_customer(session, external_id="CNPS2")
    assert slot_events(_rated(who, score, "conv-nps-3"))["ask_nps"] is False
    assert session.scalars(select(NpsInvitation)).all() == []


def test_not_asked_within_a_day_of_a_complaint(session: Session) -> None:
    ada = make_customer(session, external_id="CNPS3")
    handoff = make_handoff(session, conversation=make_conversation(session, customer=ada), customer=ada,
                           reason="complaint")  # fmt: skip
    handoff.created_at = utcnow() - timedelta(hours=5)
    session.flush()
    assert slot_events(_rated("CNPS3", "5", "conv-nps-4"))["ask_nps"] is False


def test_buttons_0_to_10_on_the_widget_and_telegram_numbers_on_sms() -> None:
    for channel in ("web", "telegram"):
        _, [message] = run_action(ActionAskNpsScore(), make_tracker(metadata={"channel": channel}))
        assert message["text"] == ASK_SCORE
        assert [b["title"] for b in message["buttons"]] == [str(n) for n in range(11)]
    _, [sms] = run_action(ActionAskNpsScore(), make_tracker(metadata={"channel": "sms"}))
    assert sms["text"] == ASK_SCORE + SMS_HINT and not sms.get("buttons")
    assert SCORE_BUTTONS[0]["payload"] == '/inform{"rating":"0"}'


def _validate(text: str, intent: str = "inform", entities: list | None = None, retries: float = 0) -> dict:  # type: ignore[type-arg]
    tracker = make_tracker(
        text=text, intent=intent, entities=entities, slots={"requested_slot": "nps_score", "nps_retries": retries},
        trailing=[{"event": "slot", "name": "nps_score", "value": text}], active_loop={"name": "nps_form"},
    )  # fmt: skip
    events, messages = run_action(ValidateNpsForm(), tracker)
    return {**slot_events(events), "_said": texts(messages)}


def test_scores_are_read_from_buttons_and_typing() -> None:
    assert _validate("0")["nps_score"] == "0"
    assert _validate("a solid nine")["nps_score"] == "9"
    assert _validate('/inform{"rating":"10"}', entities=[{"entity": "rating", "value": "10"}])["nps_score"] == "10"
    eleven = _validate("11")
    assert eleven["nps_score"] is None and "0 to 10" in eleven["_said"]
    assert _validate("11", retries=1)["nps_score"] == "skipped"
    assert _validate("no thanks", intent="deny") == {"nps_score": "skipped", "nps_reason": "skipped", "_said": ""}


def test_the_answer_is_stored_with_channel_and_reason(session: Session) -> None:
    ada = make_customer(session, external_id="CNPS4")
    tracker = make_tracker(
        text="friendly people", metadata={"customer_id": "CNPS4", "channel": "telegram"}, sender_id="conv-nps-5",
        slots={"nps_score": "9", "nps_reason": "friendly people"},
    )  # fmt: skip
    events, messages = run_action(ActionSubmitNps(), tracker)
    [row] = session.scalars(select(Feedback).where(Feedback.kind == "nps")).all()
    assert (row.score, row.comment, row.channel, row.customer_id) == (9, "friendly people", "telegram", ada.id)
    assert slot_events(events)["ask_nps"] is False and "Thank you" in texts(messages)
    skipped = make_tracker(sender_id="conv-nps-6", slots={"nps_score": "skipped", "nps_reason": "skipped"})
    run_action(ActionSubmitNps(), skipped)
    assert len(session.scalars(select(Feedback).where(Feedback.kind == "nps")).all()) == 1
