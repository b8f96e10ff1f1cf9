"""/staff: the queue of waiting customers, by priority then wait."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm.clock import utcnow
from crm.models import Conversation, ConversationState, Handoff
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


async def test_the_queue_lists_waiting_customers_by_priority_then_wait(
    gateway: Gateway, staff: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    now = utcnow()
    with db() as session:
        for cid, priority, minutes, reason in (
            ("c-old", 0, 30, "request_human"),
            ("c-new", 0, 5, "fallback"),
            ("c-complaint", 10, 1, "complaint"),
        ):
            session.add(Conversation(id=cid, channel="sms", address=cid, state=ConversationState.queued))
            session.flush()
            session.add(
                Handoff(
                    conversation_id=cid,
                    reason=reason,
                    priority=priority,
                    slots={},
                    order_numbers=[],
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        session.add(Conversation(id="c-live", channel="web", address="live", state=ConversationState.bot))
        session.commit()
    client, _ = await staff(db)
    page = await client.get("/staff")
    waiting = re.search(r'data-testid="waiting">(.*?)</table>', page.text, re.S)
    assert waiting is not None
    assert re.findall(r'tr data-conversation-id="([^"]+)"', waiting.group(1)) == [
        "c-complaint",
        "c-old",
        "c-new",
    ]
    assert "c-live" in page.text  # live with the assistant: staff can step in
    assert 'data-testid="waiting-count">3<' in page.text
