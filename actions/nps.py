""""How likely are you to recommend us to a friend, 0-10?" and "What's the main reason?".

Asked right after a CSAT answer (action_submit_feedback calls `offer_nps`)
when the conversation ended well and the rules in crm/services/nps.py allow
it: a known customer, not asked in 90 days, no complaint in 24 hours. The
`ask_nps` slot tells the rules (data/rules/nps.yml) to start `nps_form`.

Buttons 0-10 on the widget and Telegram; on SMS, where buttons become
numbered options ("reply 1 for 0" would be a trap), the question asks for
the number itself.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.common import PromptAction, channel, crm_session, latest_intent, verified_customer
from actions.scores import is_skip, parse_score
from crm.clock import utcnow
from crm.services import nps

logger = logging.getLogger(__name__)

SKIPPED = "skipped"
ASK_SCORE = (
    "One last thing: how likely are you to recommend us to a friend, from 0 (not at all) to 10 (very)?"
)
SMS_HINT = " Reply with a number from 0 to 10."
SCORE_BUTTONS = [{"title": str(n), "payload": f'/inform{{"rating":"{n}"}}'} for n in range(0, 11)]
ASK_REASON = "Thanks! What's the main reason for your score? Type it here, or tap Skip."
REASON_BUTTONS = [{"title": "Skip", "payload": "/deny"}]
NOT_A_SCORE = "Sorry, I need a number from 0 to 10. Or say “skip” if you'd rather not answer."
THANKS = "Thank you — that really helps us. Have a lovely day!"
SKIP_THANKS = "No problem. Have a lovely day!"


def offer_nps(session: Session, tracker: Tracker, *, csat: int | None) -> bool:
    """Whether to ask now; if so, the invitation is recorded (asked is asked, answered or not)."""
    customer = verified_customer(session, tracker)
    now = utcnow()
    resolved = bool(tracker.get_slot("resolved_request"))
    if not nps.ended_well(session, customer=customer, csat=csat, resolved=resolved, now=now):
        return False
    if customer is None or not nps.may_ask(session, customer=customer, now=now):
        return False
    nps.record_invitation(
        session, customer=customer, conversation_id=tracker.sender_id, channel=channel(tracker), now=now
    )
    return True


class ActionAskNpsScore(Action):
    def name(self) -> str:
        return "action_ask_nps_score"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if channel(tracker) == "sms":
            dispatcher.utter_message(text=ASK_SCORE + SMS_HINT)
        else:
            dispatcher.utter_message(text=ASK_SCORE, buttons=SCORE_BUTTONS)
        return []


class ActionAskNpsReason(PromptAction):
    text = ASK_REASON
    buttons = REASON_BUTTONS

    def name(self) -> str:
        return "action_ask_nps_reason"


class ValidateNpsForm(FormValidationAction):
    def name(self) -> str:
        return "validate_nps_form"

    def validate_nps_score(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {}
        message = tracker.latest_message or {}
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        score = parse_score(text, message.get("entities") or [])
        if score is None and is_skip(text, latest_intent(tracker)):
            return {"nps_score": SKIPPED, "nps_reason": SKIPPED}
        if score is not None and 0 <= score <= 10:
            return {"nps_score": str(score)}
        if tracker.get_slot("nps_retries"):
            return {"nps_score": SKIPPED, "nps_reason": SKIPPED}
        dispatcher.utter_message(text=NOT_A_SCORE)
        return {"nps_score": None, "nps_retries": 1.0}

    def validate_nps_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        if not text or text.startswith("/") or is_skip(text, latest_intent(tracker)):
            return {"nps_reason": SKIPPED}
        return {"nps_reason": text}


class ActionSubmitNps(Action):
    def name(self) -> str:
        return "action_submit_nps"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reset: list[EventType] = [
            SlotSet("ask_nps", False),
            SlotSet("nps_score", None),
            SlotSet("nps_reason", None),
            SlotSet("nps_retries", 0.0),
        ]
        raw = tracker.get_slot("nps_score")
        if not isinstance(raw, str) or not raw.isdigit() or not 0 <= int(raw) <= 10:
            dispatcher.utter_message(text=SKIP_THANKS)
            return reset
        reason = tracker.get_slot("nps_reason")
        with crm_session() as session:
            nps.record_answer(
                session,
                customer=verified_customer(session, tracker),
                conversation_id=tracker.sender_id,
                channel=channel(tracker),
                score=int(raw),
                reason=reason if isinstance(reason, str) and reason != SKIPPED else None,
            )
        logger.info("nps stored for conversation %s: score=%s", tracker.sender_id, raw)
        dispatcher.utter_message(text=THANKS)
        return reset
