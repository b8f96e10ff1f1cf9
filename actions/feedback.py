"""Asking "How did we do?" and storing the answer.

`action_check_feedback` runs when a customer says thanks, goodbye or "no"
after a resolved request (slot `resolved_request`, set by the order actions),
and when they ask to leave feedback. It either starts `feedback_form`
(sets `ask_feedback`, which the rules branch on) or closes politely. The bot
asks at most once per conversation: the `feedback_asked` slot covers this
session, the CRM (`feedback_given`) covers earlier ones.

The form asks for a 1-5 score (buttons, or typed "4", "4 stars", "four"),
then an optional comment ("no"/"skip" accepted). The score is stored with
`record_feedback` as soon as it is given; `action_submit_feedback` adds the
comment to it. A customer who would rather not rate can
say so at either step, and two unreadable answers end the questions politely
rather than trapping them in a loop.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import PromptAction, crm_session, latest_intent, verified_customer
from actions.handoff_resume import staff_rating_given
from actions.scores import SKIPPED, is_skip, parse_score, to_score
from actions.shop_info import PERSON_BUTTON
from crm.models import Feedback, Handoff, HandoffStatus
from crm.services.conversations import feedback_given, record_feedback

logger = logging.getLogger(__name__)

LOWEST, HIGHEST = 1, 5

ASK_SCORE = "How did we do today? Tap a number from 1 (poor) to 5 (great)."
SCORE_BUTTONS = [
    {"title": str(score), "payload": f'/inform{{"rating":"{score}"}}'} for score in range(1, 6)
]
ASK_COMMENT = "Thank you! Anything you'd like to add? Type it here, or tap Skip."
COMMENT_BUTTONS = [{"title": "Skip", "payload": "/deny"}]
GO_AHEAD = "Go ahead — type your comment and send it."
OUT_OF_RANGE = "Our scale only goes from 1 to 5. Or say “skip” if you'd rather not rate us."
NOT_A_SCORE = "Sorry, I need a number from 1 to 5. Or say “skip” if you'd rather not rate us."
GIVE_UP = "Sorry, I couldn't read that as a number — let's leave the rating there."
THANKS = "Thank you — your feedback helps us get better. Have a lovely day!"
SORRY_LOW = (
    "Thank you for telling us, and I'm sorry we didn't do better. "
    "If you'd like a person to look into it, just say so."
)
SKIP_THANKS = "No problem. Have a lovely day!"
ALREADY_GIVEN = "You've already rated this conversation — thank you! Is there anything else I can help with?"

# Said before the form's question, by what the customer just said.
LEAD_IN = {"thank": "You're welcome!", "goodbye": "Before you go, one quick question.", "deny": "Great."}
# Said when there is nothing to ask.
CLOSING = {
    "thank": "You're welcome! I'm here if you need anything else.",
    "goodbye": "Bye for now — take care!",
    "deny": "Alright! I'm here if you need anything else.",
}

def _latest_text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text")
    return text if isinstance(text, str) else ""


def _latest_entities(tracker: Tracker) -> list[dict[str, Any]]:
    entities = (tracker.latest_message or {}).get("entities")
    return entities if isinstance(entities, list) else []


class ActionCheckFeedback(Action):
    def name(self) -> str:
        return "action_check_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = latest_intent(tracker)
        if intent == "give_feedback":
            # The customer asked: a skipped earlier question does not stop them.
            wanted = True
        else:
            wanted = bool(tracker.get_slot("resolved_request")) and not tracker.get_slot(
                "feedback_asked"
            )
        if wanted:
            with crm_session() as session:
                wanted = not feedback_given(session, conversation_id=tracker.sender_id)
            if not wanted and intent == "give_feedback":
                dispatcher.utter_message(text=ALREADY_GIVEN)
                return [SlotSet("ask_feedback", False)]
        if wanted:
            if intent in LEAD_IN:
                dispatcher.utter_message(text=LEAD_IN[intent])
            # "I want to give you 5 stars" already answers the first question.
            offered = parse_score(None, _latest_entities(tracker)) if intent == "give_feedback" else None
            score = str(offered) if offered is not None and LOWEST <= offered <= HIGHEST else None
            return [
                SlotSet("ask_feedback", True),
                SlotSet("feedback_asked", True),
                SlotSet("feedback_score", score),
                SlotSet("feedback_comment", None),
                SlotSet("feedback_retries", 0.0),
            ]
        dispatcher.utter_message(text=CLOSING.get(intent or "", CLOSING["deny"]))
        return [SlotSet("ask_feedback", False)]


class ActionAskFeedbackScore(PromptAction):
    text = ASK_SCORE
    buttons = SCORE_BUTTONS

    def name(self) -> str:
        return "action_ask_feedback_score"


class ActionAskFeedbackComment(PromptAction):
    text = ASK_COMMENT
    buttons = COMMENT_BUTTONS

    def name(self) -> str:
        return "action_ask_feedback_comment"


class ValidateFeedbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_feedback_form"

    def validate_feedback_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            # A reset (action_check_feedback clears old answers), not an answer:
            # Rasa hands those to the validation when the form starts.
            return {}
        text = _latest_text(tracker)
        score = parse_score(text, _latest_entities(tracker))
        if score is None and is_skip(text, latest_intent(tracker)):
            return {"feedback_score": SKIPPED, "feedback_comment": SKIPPED}
        if score is not None and LOWEST <= score <= HIGHEST:
            # Stored now, not after the optional comment: a customer who taps
            # "5" and closes the chat has still rated us.
            with crm_session() as session:
                feedback_id = _store_score(session, tracker, score)
            return {
                "feedback_score": str(score),
                "feedback_retries": 0.0,
                "feedback_id": str(feedback_id) if feedback_id is not None else None,
            }
        retries = tracker.get_slot("feedback_retries") or 0
        if retries >= 1:
            dispatcher.utter_message(text=GIVE_UP)
            return {"feedback_score": SKIPPED, "feedback_comment": SKIPPED}
        dispatcher.utter_message(text=OUT_OF_RANGE if score is not None else NOT_A_SCORE)
        return {"feedback_score": None, "feedback_retries": float(retries) + 1}

    def validate_feedback_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {}
        text = _latest_text(tracker).strip()
        intent = latest_intent(tracker)
        if not text or text.startswith("/") or is_skip(text, intent):
            return {"feedback_comment": SKIPPED}
        if intent == "affirm" and len(text) <= 20:
            # "yes" to "anything to add?" means they have something to say.
            dispatcher.utter_message(text=GO_AHEAD)
            return {"feedback_comment": None}
        return {"feedback_comment": text}


def _store_score(session: Session, tracker: Tracker, score: int) -> int | None:
    """Store a rating; the id of the new Feedback row, or None if one exists already.

    A double submit (two gateways, a retried request) stores one rating.
    """
    # Asked right after staff handed back (action_resume_after_handoff): about that person.
    rated_staff = tracker.get_slot("rated_staff_user_id")
    if isinstance(rated_staff, str) and rated_staff.isdigit():
        staff_user_id: int | None = int(rated_staff)
        given = staff_rating_given(
            session, conversation_id=tracker.sender_id, staff_user_id=int(rated_staff)
        )
    else:
        staff_user_id = _rated_staff_member(session, tracker.sender_id)
        given = feedback_given(session, conversation_id=tracker.sender_id)
    if given:
        return None
    feedback = record_feedback(
        session,
        conversation_id=tracker.sender_id,
        customer=verified_customer(session, tracker),
        score=score,
        staff_user_id=staff_user_id,
    )
    session.flush()
    logger.info("feedback stored for conversation %s: score=%d", tracker.sender_id, score)
    return feedback.id


def _rated_staff_member(session: Session, conversation_id: str) -> int | None:
    """Who resolved this conversation's latest handoff: the rating is about them."""
    return session.scalar(
        select(Handoff.resolved_by_id)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status == HandoffStatus.resolved,
        )
        .order_by(Handoff.id.desc())
        .limit(1)
    )


class ActionSubmitFeedback(Action):
    def name(self) -> str:
        return "action_submit_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reset: list[EventType] = [
            SlotSet("ask_feedback", False),
            SlotSet("feedback_score", None),
            SlotSet("feedback_comment", None),
            SlotSet("feedback_retries", 0.0),
            SlotSet("rated_staff_user_id", None),
            SlotSet("feedback_id", None),
        ]
        # The NPS question (actions/nps.py) may follow a good rating; the rules read `ask_nps`.
        reset.append(SlotSet("ask_nps", False))
        score = to_score(tracker.get_slot("feedback_score"))
        if score is None or not LOWEST <= score <= HIGHEST:
            dispatcher.utter_message(text=SKIP_THANKS)
            return reset
        comment = tracker.get_slot("feedback_comment")
        if not isinstance(comment, str) or comment == SKIPPED:
            comment = None
        stored = tracker.get_slot("feedback_id")
        with crm_session() as session:
            if isinstance(stored, str) and stored.isdigit():
                feedback_id: int | None = int(stored)
            else:
                # A score the form never validated (it came with "give_feedback").
                feedback_id = _store_score(session, tracker, score)
            if comment is not None and feedback_id is not None:
                feedback = session.get(Feedback, feedback_id)
                if feedback is not None and feedback.conversation_id == tracker.sender_id:
                    feedback.comment = comment
            from actions.nps import offer_nps  # here: actions.nps reuses this module's parsing

            ask_nps = score > 2 and offer_nps(session, tracker, csat=score)
        if ask_nps:
            # The thanks first; the NPS question ("One last thing: ...") follows as the form starts.
            dispatcher.utter_message(text=THANKS)
            return [*reset[:-1], SlotSet("ask_nps", True)]
        if score <= 2:
            dispatcher.utter_message(text=SORRY_LOW, buttons=[PERSON_BUTTON])
        else:
            dispatcher.utter_message(text=THANKS)
        return reset
