"""/staff/review: masked messages, one-click labels, new kinds of request counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Conversation, Message, ReviewItem, Sender
from crm.services import review
from tests.bot.staff_support import StaffClient, create_staff, staff_email
from tests.fakes.gateway import Gateway

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def gateway(start_gateway: Callable[..., Any]) -> Gateway:
    return await start_gateway(staff_session_secret="staff-session-secret-for-tests-0123")


@pytest_asyncio.fixture
async def agent(gateway: Gateway, db: sessionmaker[Session]) -> AsyncIterator[StaffClient]:
    client = StaffClient(gateway.url)
    await client.sign_in(staff_email(db, create_staff(db, name="Sam Carter")))
    yield client
    await client.aclose()


def _seed(db: sessionmaker[Session]) -> list[int]:
    with db() as session:
        session.add(Conversation(id="r1", channel="web"))
        session.flush()
        ids = []
        for n, text in enumerate(["my parcel 10432 never came, ring 07700900123", "do you do gift wrapping"]):
            m = Message(conversation_id="r1", channel="web", sender=Sender.customer, text=text, channel_message_id=f"r{n}")
            session.add(m)
            session.flush()
            review.record_reading(session, message_id=m.id, intent="nlu_fallback", confidence=0.2,
                                  ranking=[["nlu_fallback", 0.2], ["track_order", 0.15]], threshold=0.5)  # fmt: skip
            ids.append(session.scalar(select(ReviewItem.id).where(ReviewItem.message_id == m.id)))
        session.commit()
    return ids


async def test_the_queue_shows_masked_text_and_the_guesses(agent: StaffClient, db: sessionmaker[Session]) -> None:
    _seed(db)
    page = await agent.get("/staff/review")
    assert page.status_code == 200
    assert "my parcel [order] never came, ring [phone]" in page.text
    assert "10432" not in page.text and "07700900123" not in page.text
    assert 'name="intent" value="track_order"' in page.text
    assert "2 messages to look at" in page.text


async def test_one_click_labels_and_new_requests(agent: StaffClient, db: sessionmaker[Session]) -> None:
    first, second = _seed(db)
    done = await agent.post(f"/staff/review/{first}", {"intent": "track_order"}, json_reply=False)
    assert done.status_code == 303 and done.headers["location"] == "/staff/review?done=1"
    no_note = await agent.post(f"/staff/review/{second}", {"intent": review.NEW_REQUEST})
    assert no_note.status_code == 400 and "few words" in no_note.json()["error"]
    unknown = await agent.post(f"/staff/review/{second}", {"intent": "make_coffee"})
    assert unknown.status_code == 400
    noted = await agent.post(f"/staff/review/{second}", {"intent": review.NEW_REQUEST, "note": "Gift wrapping"},
                             json_reply=False)  # fmt: skip
    assert noted.status_code == 303
    missing = await agent.post("/staff/review/999999", {"intent": "track_order"})
    assert missing.status_code == 404
    with db() as session:
        rows = {i.id: (i.status, i.chosen_intent, i.new_request) for i in session.scalars(select(ReviewItem))}
    assert rows == {first: ("reviewed", "track_order", False), second: ("reviewed", None, True)}
    page = await agent.get("/staff/review")
    assert "Nothing to review" in page.text and "gift wrapping" in page.text


async def test_a_label_needs_the_csrf_token(agent: StaffClient, db: sessionmaker[Session]) -> None:
    first, _ = _seed(db)
    refused = await agent.post(f"/staff/review/{first}", {"intent": "track_order"}, csrf=None)
    assert refused.status_code == 403
