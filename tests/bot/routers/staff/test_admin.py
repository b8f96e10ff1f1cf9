"""/staff/admin: staff accounts and the audit log, for admins."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import AuditEntry, StaffRole, StaffUser
from tests.bot.staff_support import page_text
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


async def test_admins_manage_accounts_with_clear_answers_and_every_change_audited(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    admin, boss = await staff(db, name="Robin Admin", role=StaffRole.admin)
    created = await admin.post(
        "/staff/admin/staff",
        {
            "email": "New.Person@Shop.example",
            "name": "New Person",
            "role": "agent",
            "password": "a fine long password",
        },
        json_reply=False,
    )
    assert created.status_code == 303
    with db() as session:
        new = session.scalars(select(StaffUser).where(StaffUser.email == "new.person@shop.example")).one()
        assert new.role == StaffRole.agent and new.password_hash.startswith("$argon2id$")
    duplicate = await admin.post(
        "/staff/admin/staff",
        {
            "email": "new.person@shop.example",
            "name": "Again",
            "role": "agent",
            "password": "a fine long password",
        },
        json_reply=False,
    )
    assert duplicate.status_code == 400 and "already an account" in page_text(duplicate)
    weak = await admin.post(
        "/staff/admin/staff",
        {"email": "x@shop.example", "name": "X", "role": "agent", "password": "short"},
        json_reply=False,
    )
    assert weak.status_code == 400 and "at least 12 characters" in page_text(weak)
    demote_self = await admin.post(f"/staff/admin/staff/{boss}", {"role": "agent"}, json_reply=False)
    assert demote_self.status_code == 400 and "your own admin rights" in page_text(demote_self)
    deactivate = await admin.post(f"/staff/admin/staff/{new.id}", {"active": "false"}, json_reply=False)
    assert deactivate.status_code == 303
    audit_page = page_text(await admin.get("/staff/admin/audit"))
    assert "staff.create" in audit_page and "staff.update" in audit_page and "active: False" in audit_page
    assert "a fine long password" not in audit_page
    with db() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.actor == f"staff:{boss}")).all()
    assert [e.action for e in entries if e.action.startswith("staff.")] == [
        "staff.sign_in",
        "staff.create",
        "staff.update",
    ]


async def test_the_audit_log_links_conversations_and_pages_back(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    admin, boss = await staff(db, name="Robin Admin", role=StaffRole.admin)
    with db() as session:
        for i in range(130):
            session.add(
                AuditEntry(actor="system", action="test.entry", subject=f"conversation:c{i}", detail={"n": i})
            )
        session.commit()
    first = await admin.get("/staff/admin/audit")
    assert first.text.count("test.entry") == 100
    assert 'href="/staff/conversations/c129"' in first.text
    older = re.search(r'href="(/staff/admin/audit\?before=\d+)"', first.text)
    assert older is not None
    second = await admin.get(older.group(1))
    assert second.text.count("test.entry") == 30 and "c0<" in second.text
