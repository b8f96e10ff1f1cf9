"""bot.notices: consent, quiet hours, the daily cap and merging decide; notify sends; failures retry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.conversations import DeliveryFailed
from bot.metrics import Metrics
from bot.notices import NoticeSender
from crm.models import Conversation, Notice, NoticeStatus, OrderStatus
from crm.services import notices
from crm.shop import Notifications
from tests.factories import make_conversation, make_customer, make_order

# 12:00 in London on a December Monday.
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


class FakeService:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures = failures

    async def notify(self, *, conversation_id: str, text: str, data: dict[str, Any]) -> bool:
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed("HTTP 502")
        self.sent.append({"conversation_id": conversation_id, "text": text, "data": data})
        return True


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _setup(db: sessionmaker[Session], *, opt_in: bool | None = True, locale: str = "en-GB", channel: str = "telegram",
           orders: int = 1) -> tuple[str, list[int]]:
    with db() as session:
        customer = make_customer(session, locale=locale, phone="+447700900123", telegram_user_id=555)
        customer.order_updates_opt_in = opt_in
        conversation = make_conversation(session, channel=channel, address="555", customer=customer)
        ids = []
        for i in range(orders):
            order = make_order(session, customer=customer, status=OrderStatus.shipped, carrier="Royal Mail",
                               lines=[("Teapot", 1)])
            order.tracking_number = f"RM{i}"
            session.flush()
            notice = notices.enqueue(session, order=order, kind="shipped", event=f"RM{i}", now=NOON,
                                     detail={"tracking_url": f"https://track.example/RM{i}"})
            assert notice is not None
            ids.append(notice.id)
        session.commit()
        return conversation.id, ids


def _sender(db: sessionmaker[Session], service: FakeService, clock: Clock, metrics: Metrics,
            settings: Notifications | None = None) -> NoticeSender:
    class Profile:
        notifications = settings or Notifications(merge_minutes=10, daily_cap=2)

        class opening_hours:
            timezone = "Europe/London"

    return NoticeSender(sessionmaker=db, service=service, metrics=metrics,  # type: ignore[arg-type]
                        channels=lambda: {"telegram", "sms", "web"}, clock=clock, profile=lambda: Profile,  # type: ignore[arg-type,return-value]
                        max_attempts=3)


def _rows(db: sessionmaker[Session]) -> list[Notice]:
    with db() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def _count(metrics: Metrics, outcome: str, reason: str = "", channel: str = "") -> float:
    return metrics.registry.get_sample_value(
        "gateway_notices_total", {"outcome": outcome, "reason": reason, "channel": channel}) or 0.0


@pytest.mark.asyncio
async def test_an_opted_in_customer_gets_one_message_with_tracking_and_the_order_in_context(
    db: sessionmaker[Session],
) -> None:
    conversation_id, _ = _setup(db)
    service, metrics = FakeService(), Metrics()
    sender = _sender(db, service, Clock(NOON), metrics)
    assert await sender.run_once() == 1
    assert await sender.run_once() == 0  # never twice
    [message] = service.sent
    assert message["conversation_id"] == conversation_id
    assert "RM0" in message["text"] and "https://track.example/RM0" in message["text"]
    assert "Royal Mail" in message["text"] and "Teapot" in message["text"]
    assert message["data"]["kind"] == "order_notice" and message["data"]["order_number"]
    [row] = _rows(db)
    assert row.status == NoticeStatus.sent and row.channel == "telegram" and row.text == message["text"]
    assert _count(metrics, "sent", channel="telegram") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("opt_in", [None, False])
async def test_nothing_is_sent_without_consent(db: sessionmaker[Session], opt_in: bool | None) -> None:
    _setup(db, opt_in=opt_in)
    service, metrics = FakeService(), Metrics()
    assert await _sender(db, service, Clock(NOON), metrics).run_once() == 0
    assert service.sent == []
    [row] = _rows(db)
    assert row.status == NoticeStatus.suppressed and row.reason == "no_consent"
    assert _count(metrics, "suppressed", "no_consent") == 1


@pytest.mark.asyncio
async def test_at_half_past_eleven_local_it_waits_for_the_morning(db: sessionmaker[Session]) -> None:
    _setup(db, locale="de-DE")
    late = datetime(2026, 12, 7, 22, 30, tzinfo=timezone.utc)  # 23:30 in Berlin
    with db() as session:
        for row in session.scalars(select(Notice)):
            row.due_at = late
        session.commit()
    service, metrics, clock = FakeService(), Metrics(), Clock(late)
    sender = _sender(db, service, clock, metrics)
    assert await sender.run_once() == 0
    [row] = _rows(db)
    assert row.status == NoticeStatus.pending and row.deferred
    assert row.due_at.replace(tzinfo=timezone.utc) == datetime(2026, 12, 8, 7, 0, tzinfo=timezone.utc)
    assert _count(metrics, "deferred", "quiet_hours") == 1
    clock.now = datetime(2026, 12, 8, 6, 59, tzinfo=timezone.utc)
    assert await sender.run_once() == 0
    clock.now = datetime(2026, 12, 8, 7, 0, tzinfo=timezone.utc)
    assert await sender.run_once() == 1
    assert len(service.sent) == 1


@pytest.mark.asyncio
async def test_changes_close_together_go_as_one_message(db: sessionmaker[Session]) -> None:
    _setup(db, orders=3)
    service, metrics = FakeService(), Metrics()
    assert await _sender(db, service, Clock(NOON), metrics).run_once() == 1
    [message] = service.sent
    assert all(f"RM{i}" in message["text"] for i in range(3))
    statuses = [(r.status, r.reason) for r in _rows(db)]
    assert statuses == [(NoticeStatus.sent, None), (NoticeStatus.suppressed, "merged"),
                        (NoticeStatus.suppressed, "merged")]


@pytest.mark.asyncio
async def test_the_daily_cap_holds_per_customer(db: sessionmaker[Session]) -> None:
    _setup(db, orders=3)
    service, metrics, clock = FakeService(), Metrics(), Clock(NOON)
    sender = _sender(db, service, clock, metrics, Notifications(merge_minutes=0, daily_cap=2))
    assert await sender.run_once() == 2
    assert len(service.sent) == 2
    assert [r.reason for r in _rows(db)] == [None, None, "cap"]
    assert _count(metrics, "suppressed", "cap", "telegram") == 1


@pytest.mark.asyncio
async def test_a_customer_without_a_conversation_is_reached_on_their_linked_telegram(
    db: sessionmaker[Session],
) -> None:
    with db() as session:
        customer = make_customer(session, telegram_user_id=4242, phone="+447700900999")
        customer.order_updates_opt_in = True
        order = make_order(session, customer=customer, status=OrderStatus.shipped)
        notices.enqueue(session, order=order, kind="shipped", now=NOON)
        session.commit()
    service = FakeService()
    assert await _sender(db, service, Clock(NOON), Metrics()).run_once() == 1
    with db() as session:
        conversation = session.get(Conversation, service.sent[0]["conversation_id"])
        assert conversation is not None
        assert (conversation.channel, conversation.address) == ("telegram", "4242")


@pytest.mark.asyncio
async def test_failed_sends_retry_with_back_off_then_staff_see_them(db: sessionmaker[Session]) -> None:
    _setup(db, orders=2)
    service, metrics, clock = FakeService(failures=3), Metrics(), Clock(NOON)
    sender = _sender(db, service, clock, metrics)
    assert await sender.run_once() == 0
    first, second = _rows(db)
    # The merged one waits with the failed one, to go along next time.
    assert first.status == second.status == NoticeStatus.pending
    assert first.due_at.replace(tzinfo=timezone.utc) == NOON + timedelta(seconds=30)
    clock.now = NOON + timedelta(seconds=30)
    assert await sender.run_once() == 0
    clock.now = NOON + timedelta(minutes=5)
    assert await sender.run_once() == 0
    assert {r.status for r in _rows(db)} == {NoticeStatus.dead}
    with db() as session:
        assert len(notices.undeliverable(session)) == 2
    assert _count(metrics, "dead", channel="telegram") == 1
