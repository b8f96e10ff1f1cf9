"""bot.staff.audit_log: the audit log page's rows, newest first, a page at a time."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.staff.audit_log import audit_log
from crm.services.audit import audit
from tests.factories import make_staff_user


def test_rows_are_newest_first_with_staff_names_and_conversations_linked(session: Session) -> None:
    sam = make_staff_user(session, name="Sam Carter")
    audit(session, actor="system", action="crm.import_customers", detail={"imported": 3})
    audit(session, actor=f"staff:{sam.id}", action="conversation.assign", subject="conversation:c-1")
    audit(session, actor="staff:9999", action="staff.update", subject="staff:2")  # a deleted account
    audit(session, actor="staff:x", action="odd", subject="order:1043")
    session.flush()

    rows, next_id = audit_log(session, limit=10)
    assert next_id is None
    assert [(r.action, r.actor_name, r.conversation_id) for r in rows] == [
        ("odd", None, None),
        ("staff.update", None, None),
        ("conversation.assign", "Sam Carter", "c-1"),
        ("crm.import_customers", None, None),
    ]
    assert rows[-1].detail == {"imported": 3} and rows[-1].at.utcoffset() is not None


def test_pages_follow_on_without_gaps_or_repeats(session: Session) -> None:
    for n in range(5):
        audit(session, actor="system", action=f"step.{n}")
    session.flush()
    first, after = audit_log(session, limit=2)
    second, after_second = audit_log(session, limit=2, before_id=after)
    last, end = audit_log(session, limit=2, before_id=after_second)
    assert [r.action for r in first + second + last] == ["step.4", "step.3", "step.2", "step.1", "step.0"]
    assert after is not None and after_second is not None and end is None
