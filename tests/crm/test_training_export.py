"""`python -m crm export-training`: reviewed, masked messages become Rasa NLU examples."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import AuditEntry, ReviewItem
from crm.services import review
from crm.training_export import export_training
from tests.factories import make_conversation, make_message, make_staff_user


def test_reviewed_messages_are_written_masked_and_the_export_is_audited(session: Session, tmp_path: Path) -> None:
    staff = make_staff_user(session)
    c = make_conversation(session)
    for n, (text, intent) in enumerate(
        [("wheres order 10432", "track_order"), ("mail me: a@b.io", "contact_us"), ("gift cards?", review.NEW_REQUEST)]
    ):
        m = make_message(session, conversation=c, text=text, channel_message_id=f"x{n}")
        review.record_reading(session, message_id=m.id, intent="nlu_fallback", confidence=0.1, ranking=[], threshold=0.5)
        item_id = session.scalar(select(ReviewItem.id).where(ReviewItem.message_id == m.id))
        review.review(session, item_id=item_id, intent=intent, staff_id=staff.id, note="gift cards")
    out = tmp_path / "reviewed.yml"
    assert export_training(session, path=out, actor="cli") == 2
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    assert data["nlu"] == [
        {"intent": "contact_us", "examples": "- mail me: <email>\n"},
        {"intent": "track_order", "examples": "- wheres order <order>\n"},
    ]
    assert "10432" not in out.read_text() and "a@b.io" not in out.read_text()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "training.export")).one()
    assert entry.detail == {"examples": 2}


def test_nothing_reviewed_writes_an_empty_but_valid_file(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "nlu" / "reviewed.yml"
    assert export_training(session, path=out) == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == {"version": "3.1", "nlu": []}
