"""Back with the bot after a person helped: thank the customer, ask how it went.

The gateway triggers `handoff_resolved` with the staff member's id as the
`staff_user_id` entity when staff resolve a handoff. This action believes the
CRM, not the entity: the latest resolved handoff of this conversation says
who resolved it and when, and a rating is asked for only if that handoff was
resolved a moment ago, by the person named, who wrote to the customer, and
has not been rated yet. It sets `rated_staff_user_id`, which
`action_submit_feedback` stores with the rating, and `ask_feedback`, which
starts the feedback form.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.common import crm_session
from crm.clock import as_utc, utcnow
from crm.models import Feedback, Handoff, HandoffStatus, Message, Sender, StaffUser

logger = logging.getLogger(__name__)

# The trigger follows the resolve within seconds; an old resolve is not this one.
RECENT = timedelta(minutes=15)

BACK = "Thanks for chatting with {name}! You're back with our assistant now."
BACK_NO_NAME = "Thanks for your patience! You're back with our assistant now."
NOT_UNDERSTOOD = "Sorry, I didn't quite catch that. Could you say it another way?"


def _entity(tracker: Tracker, name: str) -> str | None:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name and entity.get("value") is not None:
            return str(entity["value"])
    return None


def latest_resolved(session: Session, conversation_id: str) -> Handoff | None:
    return session.scalars(
        select(Handoff)
        .where(
            Handoff.conversation_id == conversation_id,
            Handoff.status == HandoffStatus.resolved,
            Handoff.resolved_by_id.is_not(None),
        )
        .order_by(Handoff.resolved_at.desc(), Handoff.id.desc())
        .limit(1)
    ).first()


def staff_rating_given(session: Session, *, conversation_id: str, staff_user_id: int) -> bool:
    """Whether the customer already rated this staff member since they last resolved this conversation."""
    resolved_at = session.scalar(
        select(Handoff.resolved_at)
        .where(Handoff.conversation_id == conversation_id, Handoff.resolved_by_id == staff_user_id)
        .order_by(Handoff.resolved_at.desc())
        .limit(1)
    )
    query = select(Feedback.id).where(
        Feedback.conversation_id == conversation_id, Feedback.staff_user_id == staff_user_id
    )
    if resolved_at is not None:
        query = query.where(Feedback.created_at >= resolved_at)
    return session.scalar(query.limit(1)) is not None


def _wrote_to_customer(session: Session, conversation_id: str, staff_id: int, *, since: datetime) -> bool:
    return (
        session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.sender == Sender.agent,
                Message.staff_user_id == staff_id,
                Message.created_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else ""


class ActionResumeAfterHandoff(Action):
    def name(self) -> str:
        return "action_resume_after_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        named = _entity(tracker, "staff_user_id")
        now = utcnow()
        with crm_session() as session:
            handoff = latest_resolved(session, tracker.sender_id)
            genuine = (
                handoff is not None
                and named is not None
                and str(handoff.resolved_by_id) == named
                and handoff.resolved_at is not None
                and now - as_utc(handoff.resolved_at) <= RECENT
            )
            if not genuine or handoff is None or handoff.resolved_by_id is None:
                # Not a hand-back the CRM knows of (a stray prediction, a replayed trigger).
                logger.warning(
                    "handoff_resolved without a matching resolved handoff in %s", tracker.sender_id
                )
                dispatcher.utter_message(text=NOT_UNDERSTOOD)
                return [SlotSet("ask_feedback", False), SlotSet("rated_staff_user_id", None)]
            staff_id = handoff.resolved_by_id
            staff = session.get(StaffUser, staff_id)
            name = _first_name(staff.name) if staff is not None else ""
            helped = _wrote_to_customer(
                session, tracker.sender_id, staff_id, since=as_utc(handoff.created_at)
            )
            rated = staff_rating_given(session, conversation_id=tracker.sender_id, staff_user_id=staff_id)
        if not helped:
            # Closed without a word to the customer (an admin clearing the queue): nothing to rate.
            dispatcher.utter_message(text=BACK_NO_NAME)
            return [SlotSet("ask_feedback", False), SlotSet("rated_staff_user_id", None)]
        dispatcher.utter_message(text=BACK.format(name=name) if name else BACK_NO_NAME)
        if rated:
            return [SlotSet("ask_feedback", False), SlotSet("rated_staff_user_id", None)]
        return [
            SlotSet("rated_staff_user_id", str(staff_id)),
            SlotSet("ask_feedback", True),
            SlotSet("feedback_asked", True),
            SlotSet("feedback_score", None),
            SlotSet("feedback_comment", None),
            SlotSet("feedback_retries", 0.0),
        ]
