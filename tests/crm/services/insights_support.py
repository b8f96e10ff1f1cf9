"""Helpers of the insights tests: conversations and customer messages at given UTC times."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from crm.models import Conversation, Sender
from tests.factories import make_conversation, make_message


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=timezone.utc)


def conv(session: Session, cid: str, channel: str, at: datetime) -> Conversation:
    c = make_conversation(session, conversation_id=cid, channel=channel)
    c.created_at = at
    return c


def said(session: Session, c: Conversation, at: datetime, intent: str | None, confidence: float = 0.9) -> None:
    m = make_message(session, conversation=c, sender=Sender.customer, text="x")
    m.created_at = at
    m.intent = intent
    m.intent_confidence = confidence if intent else None
