"""bot.worker: signed webhooks to the shop from the database outbox, retried, then dead-lettered."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.worker import EVENT_HEADER, SIGNATURE_HEADER, OutboxWorker
from crm.clock import as_utc, utcnow
from crm.models import OutboxMessage
from crm.services import outbox
from crm.services.shop_requests import enqueue

SECRET = "requests-secret-0123456789"
URL = "http://shop.test/assistant-requests"


class FakeShop:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status)


def _worker(db: sessionmaker[Session], shop: FakeShop, *, max_attempts: int = 3) -> tuple[OutboxWorker, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(shop.handler))
    return OutboxWorker(sessionmaker=db, http=http, url=URL, secret=SECRET, max_attempts=max_attempts), http


def _queue(db: sessionmaker[Session]) -> str:
    with db() as session:
        message = enqueue(session, topic="request.created", payload={"reference": "Q-TEST", "kind": "cancel"})
        session.commit()
        return message.event_id


def _row(db: sessionmaker[Session]) -> OutboxMessage:
    with db() as session:
        return session.scalars(select(OutboxMessage)).one()


def _make_due(db: sessionmaker[Session]) -> None:
    with db() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        session.commit()


@pytest.mark.asyncio
async def test_a_request_is_posted_signed_with_its_event_id(db: sessionmaker[Session]) -> None:
    event_id = _queue(db)
    shop = FakeShop([200])
    worker, http = _worker(db, shop)
    async with http:
        assert await worker.run_once() == 1
        assert await worker.run_once() == 0  # sent once, not again
    [request] = shop.received
    expected = base64.b64encode(hmac.new(SECRET.encode(), request.content, hashlib.sha256).digest()).decode()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert request.headers[EVENT_HEADER] == event_id
    body = json.loads(request.content)
    assert body["event_id"] == event_id and body["data"] == {"reference": "Q-TEST", "kind": "cancel"}
    assert _row(db).status == "sent"


@pytest.mark.asyncio
async def test_failures_back_off_then_go_to_the_dead_letters(db: sessionmaker[Session]) -> None:
    _queue(db)
    shop = FakeShop([500, 503, 500, 200])
    worker, http = _worker(db, shop, max_attempts=3)
    async with http:
        before = utcnow()
        assert await worker.run_once() == 0
        first = _row(db)
        assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
        assert as_utc(first.next_attempt_at) >= before + timedelta(seconds=29)
        assert await worker.run_once() == 0  # not due yet: nothing is sent
        assert len(shop.received) == 1
        _make_due(db)
        await worker.run_once()
        second = _row(db)
        assert second.attempts == 2
        assert as_utc(second.next_attempt_at) - utcnow() > timedelta(seconds=50)  # doubled
        _make_due(db)
        await worker.run_once()
        assert _row(db).status == "dead"
        with db() as session:
            assert [m.id for m in outbox.dead_letters(session)] == [_row(db).id]
            assert outbox.retry(session, message_id=_row(db).id, actor="staff:1") is not None
            session.commit()
        assert await worker.run_once() == 1
    assert _row(db).status == "sent" and len(shop.received) == 4


@pytest.mark.asyncio
async def test_an_unreachable_shop_is_a_failed_attempt(db: sessionmaker[Session]) -> None:
    _queue(db)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        worker = OutboxWorker(sessionmaker=db, http=http, url=URL, secret=SECRET)
        assert await worker.run_once() == 0
    assert (_row(db).attempts, _row(db).last_error) == (1, "ConnectError")


def test_a_claimed_message_is_not_claimed_twice(db: sessionmaker[Session]) -> None:
    _queue(db)
    with db() as first, db() as second:
        assert len(outbox.claim_due(first)) == 1
        first.commit()
        assert outbox.claim_due(second) == []


def test_backoff_grows_and_is_capped() -> None:
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert outbox.backoff(30) == timedelta(hours=1)


def test_delivered_messages_are_purged_after_thirty_days(db: sessionmaker[Session]) -> None:
    _queue(db)
    _queue(db)
    with db() as session:
        old, new = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        outbox.mark_sent(session, message=old, now=utcnow() - timedelta(days=31))
        outbox.mark_sent(session, message=new)
        session.commit()
        assert outbox.purge_sent(session) == 1
        session.commit()
        assert session.scalars(select(OutboxMessage.id)).all() == [new.id]


@pytest.mark.asyncio
async def test_the_worker_process_loop_sends_only_with_a_secret(db: sessionmaker[Session], db_engine) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from bot.worker import serve
    from tests.fakes.gateway import gateway_settings

    _queue(db)
    url = db_engine.url.render_as_string(hide_password=False)
    unsigned = gateway_settings(url, shop_requests_webhook_url="http://127.0.0.1:9/never")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(unsigned, poll_seconds=0.05, stop=stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (_row(db).status, _row(db).attempts) == ("pending", 0)  # nothing went out unsigned
