"""Which accounts are linked to me, and removing one (issue 7, item 8)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.linked_accounts import NONE_LINKED, NOT_YOURS, ActionLinkedAccounts
from crm.models import AuditEntry, ChannelIdentity, Conversation
from tests.actions.tracker_support import (
    make_tracker,
    run_action,
    slot_events,
    texts,
)
from tests.factories import make_conversation, make_customer

pytestmark = pytest.mark.usefixtures("crm")

ADA = {"channel": "web", "customer_id": "CL1"}


@pytest.fixture
def ada(session: Session) -> Any:
    return make_customer(session, external_id="CL1", first_name="Ada", telegram_user_id=555000111)


def _unlink(row_id: str, metadata: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], str]:
    tracker = make_tracker(
        text=f'/linked_accounts{{"linked_account":"{row_id}"}}',
        intent="linked_accounts",
        entities=[{"entity": "linked_account", "value": row_id}],
        metadata=metadata if metadata is not None else ADA,
    )
    events, messages = run_action(ActionLinkedAccounts(), tracker)
    return events, texts(messages)


def test_a_verified_customer_sees_each_link_with_a_remove_button(ada: Any, session: Session) -> None:
    tracker = make_tracker(text="which accounts are linked?", intent="linked_accounts", metadata=ADA)
    events, messages = run_action(ActionLinkedAccounts(), tracker)
    assert events == []
    [message] = messages
    assert "Telegram account ending 0111" in message["text"] and "555000111" not in message["text"]
    [identity] = session.scalars(select(ChannelIdentity)).all()
    assert message["buttons"] == [
        {
            "title": "Remove Telegram account ending 0111",
            "payload": f'/linked_accounts{{"linked_account":"{identity.id}"}}',
        }
    ]


def test_no_links_says_so(session: Session) -> None:
    make_customer(session, external_id="CL2")
    tracker = make_tracker(text="which accounts are linked?", intent="linked_accounts",
                           metadata={"channel": "web", "customer_id": "CL2"})
    _, messages = run_action(ActionLinkedAccounts(), tracker)
    assert texts(messages) == NONE_LINKED


def test_an_unverified_customer_is_verified_first(ada: Any) -> None:
    tracker = make_tracker(text="which accounts are linked?", intent="linked_accounts", metadata={"channel": "web"})
    events, messages = run_action(ActionLinkedAccounts(), tracker)
    assert messages == []
    assert slot_events(events) == {"pending_request": "linked_accounts"}
    assert events[-1]["name"] == "verify_form"
    events, _ = _unlink("1", metadata={"channel": "web"})
    assert events[-1]["name"] == "verify_form"


def test_removing_a_link_cuts_that_account_off(ada: Any, session: Session) -> None:
    telegram_chat = make_conversation(session, channel="telegram", address="555000111", customer=ada)
    session.flush()
    [identity] = session.scalars(select(ChannelIdentity)).all()
    _, said = _unlink(str(identity.id))
    assert "removed that Telegram account" in said
    session.expire_all()
    assert session.scalars(select(ChannelIdentity)).all() == []
    # The chat is retired: the gateway finds no conversation there and starts an anonymous one.
    assert session.get(Conversation, telegram_chat.id).address == ""  # type: ignore[union-attr]
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "identity.unlink")).all()
    assert entry.detail == {"channel": "telegram"}


def test_nobody_removes_someone_elses_link(ada: Any, session: Session) -> None:
    make_customer(session, external_id="CL3", telegram_user_id=777000222)
    session.flush()
    theirs = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_user_id == "777000222")).one()
    for forged in (str(theirs.id), "not-a-number", "9" * 40):
        _, said = _unlink(forged)
        assert said == NOT_YOURS
    session.expire_all()
    assert len(session.scalars(select(ChannelIdentity)).all()) == 2
