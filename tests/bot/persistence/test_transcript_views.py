"""One stored message read back two ways: the customer's history and the staff console's line."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.orm import Session

from bot.persistence import rows, transcript
from bot.staff.console import line_of
from crm.vocabulary import Sender


def _conversation(session: Session) -> str:
    conversation = rows.create_conversation(
        session, channel="web", address="addr", customer_external_id=None, locale="en"
    )
    return conversation.id


def test_latest_messages_are_the_newest_few_newest_first(session: Session) -> None:
    conversation_id = _conversation(session)
    for text in ("one", "two", "three"):
        transcript.add_outbound(session, conversation_id=conversation_id, channel="web", sender=Sender.bot, text=text)
    latest = transcript.latest_messages(session, conversation_id=conversation_id, limit=2)
    assert [m.text for m in latest] == ["three", "two"]
    history = transcript.transcript(session, conversation_id=conversation_id, limit=2)
    assert [e.text for e in history] == ["two", "three"]


def test_the_history_entry_and_the_console_line_read_the_same_message_alike(session: Session) -> None:
    conversation_id = _conversation(session)
    transcript.add_outbound(
        session,
        conversation_id=conversation_id,
        channel="web",
        sender=Sender.bot,
        text="Pick one",
        data={"buttons": [{"title": "Yes", "payload": "/affirm"}], "image": "https://x/a.png"},
    )
    (message,) = transcript.latest_messages(session, conversation_id=conversation_id, limit=5)
    (entry,) = transcript.transcript(session, conversation_id=conversation_id, limit=5)
    line = line_of(message, {})
    same = ("id", "sender", "text", "created_at")
    assert [getattr(entry, f) for f in same] == [getattr(line, f) for f in same]
    assert (entry.id, entry.sender, entry.text) == (message.id, Sender.bot, "Pick one")
    assert entry.created_at.tzinfo is not None and entry.created_at.utcoffset() == UTC.utcoffset(None)
    assert [b.payload for b in entry.buttons] == ["/affirm"] and entry.image == "https://x/a.png"
    assert line.buttons == ("Yes",) and not line.suppressed and line.staff_name is None
