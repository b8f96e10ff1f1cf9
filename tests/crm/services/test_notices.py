"""crm.services.notices: notices made once per event and customer, stuck parcels, claims."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Notice, NoticeStatus, OrderStatus
from crm.services import notices
from crm.services.shop_sync import CustomerUpdate, IncomingEvent, LineUpdate, OrderUpdate, receive
from crm.shop import Notifications
from tests.factories import make_conversation, make_customer, make_order

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)


def _event(key: str, source: str = "shopify") -> IncomingEvent:
    return IncomingEvent(source=source, key=key, topic="orders/updated", payload={"k": key})


def _paid(number: str = "7001") -> OrderUpdate:
    return OrderUpdate(
        number=number, platform_id=f"shopify:{number}", updated_at=T0, status=OrderStatus.paid,
        customer=CustomerUpdate(external_id="S-1", email="sam@example.com", first_name="Sam"),
        placed_at=T0, total=Decimal("30.00"), currency="GBP", lines=(LineUpdate("Teapot", 1),),
    )


def _shipped(number: str = "7001", *, at: datetime = T0 + timedelta(hours=3), tracking: str = "RM123") -> OrderUpdate:
    return OrderUpdate(platform_id=f"shopify:{number}", number=number, updated_at=at, status=OrderStatus.shipped,
                       carrier="Royal Mail", tracking_number=tracking, forward_only=True,
                       tracking_url=f"https://track.example/{tracking}")


def _notices(session: Session) -> list[Notice]:
    return list(session.scalars(select(Notice).order_by(Notice.id)))


def test_a_fulfilment_makes_one_shipped_notice_with_the_tracking_link(session: Session) -> None:
    receive(session, event=_event("create"), update=_paid())
    assert _notices(session) == []  # a new order is no news
    receive(session, event=_event("fulfil"), update=_shipped())
    [notice] = _notices(session)
    assert notice.kind == "shipped" and notice.status == NoticeStatus.pending
    assert notice.detail == {"tracking_url": "https://track.example/RM123"}
    assert notice.order.number == "7001"


def test_redelivered_and_repeated_events_never_make_a_second_notice(session: Session) -> None:
    receive(session, event=_event("create"), update=_paid())
    receive(session, event=_event("fulfil"), update=_shipped())
    # The same webhook again (a Shopify retry), then the same fact under another topic.
    receive(session, event=_event("fulfil"), update=_shipped())
    receive(session, event=_event("orders-updated"), update=_shipped(at=T0 + timedelta(hours=4)))
    assert [n.kind for n in _notices(session)] == ["shipped"]


def test_a_new_tracking_number_is_news_and_so_is_delivery_and_refund(session: Session) -> None:
    receive(session, event=_event("create"), update=_paid())
    receive(session, event=_event("f1"), update=_shipped())
    receive(session, event=_event("f2"), update=_shipped(tracking="RM999", at=T0 + timedelta(hours=5)))
    receive(session, event=_event("ofd"), update=OrderUpdate(
        platform_id="shopify:7001", updated_at=T0 + timedelta(hours=6), status=OrderStatus.shipped,
        shipment_status="out_for_delivery", forward_only=True))
    receive(session, event=_event("dlv"), update=OrderUpdate(
        platform_id="shopify:7001", updated_at=T0 + timedelta(hours=9), status=OrderStatus.delivered,
        forward_only=True))
    receive(session, event=_event("ref"), update=OrderUpdate(
        platform_id="shopify:7001", updated_at=T0 + timedelta(days=3), refunded=True, forward_only=True))
    assert [n.kind for n in _notices(session)] == ["shipped", "shipped", "out_for_delivery", "delivered", "refunded"]


def test_a_parcel_without_news_for_days_is_delayed_once(session: Session) -> None:
    customer = make_customer(session)
    order = make_order(session, customer=customer, status=OrderStatus.shipped, carrier="DPD")
    order.shipped_at = T0
    order.tracking_number = "DPD1"
    fresh = make_order(session, customer=customer, status=OrderStatus.shipped)
    fresh.shipped_at = T0 + timedelta(days=5)
    session.flush()
    settings = Notifications(stuck_after_days=5)
    assert notices.enqueue_stuck(session, settings=settings, now=T0 + timedelta(days=4)) == 0
    assert notices.enqueue_stuck(session, settings=settings, now=T0 + timedelta(days=6)) == 1
    assert notices.enqueue_stuck(session, settings=settings, now=T0 + timedelta(days=7)) == 0  # a restart: no twin
    [notice] = _notices(session)
    assert (notice.kind, notice.order_id, notice.detail["days"]) == ("delayed", order.id, 6)


def test_a_claimed_notice_is_not_due_for_another_worker_until_its_lease_ends(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status=OrderStatus.shipped)
    notices.enqueue(session, order=order, kind="shipped", now=T0)
    assert [n.kind for n in notices.claim_due(session, now=T0)] == ["shipped"]
    assert notices.claim_due(session, now=T0 + timedelta(seconds=30)) == []
    assert len(notices.claim_due(session, now=T0 + notices.LEASE + timedelta(seconds=1))) == 1


def test_failed_sends_back_off_then_die_and_staff_can_retry(session: Session) -> None:
    order = make_order(session, customer=make_customer(session), status=OrderStatus.shipped)
    notice = notices.enqueue(session, order=order, kind="shipped", now=T0)
    assert notice is not None
    notices.mark_failed(notice, error="HTTP 500", max_attempts=2, now=T0, first_retry=timedelta(seconds=30))
    assert notice.status == NoticeStatus.pending and notice.due_at == T0 + timedelta(seconds=30)
    notices.mark_failed(notice, error="HTTP 500", max_attempts=2, now=T0, first_retry=timedelta(seconds=30))
    assert notice.status == NoticeStatus.dead
    assert notices.undeliverable(session) == [notice]
    assert notices.retry(session, notice_id=notice.id, actor="staff:1") is notice
    assert notice.status == NoticeStatus.pending and notice.attempts == 0


def test_erasure_removes_the_customers_notices_and_old_ones_are_purged(session: Session) -> None:
    from crm.services.customers import erase_customer

    customer = make_customer(session)
    order = make_order(session, customer=customer, status=OrderStatus.shipped)
    notices.enqueue(session, order=order, kind="shipped", now=T0)
    other = make_order(session, customer=make_customer(session), status=OrderStatus.shipped)
    old = notices.enqueue(session, order=other, kind="shipped", now=T0)
    kept = notices.enqueue(session, order=other, kind="delivered", now=T0)
    assert old is not None and kept is not None
    conversation = make_conversation(session, channel="sms", customer=other.customer)
    notices.mark_sent(old, channel="sms", conversation_id=conversation.id, text="t", now=T0)
    session.flush()
    erase_customer(session, customer=customer, actor="staff:1")
    assert [n.order_id for n in _notices(session)] == [other.id, other.id]
    assert notices.purge_settled(session, now=T0 + timedelta(days=91)) == 1
    assert [n.kind for n in _notices(session)] == ["delivered"]  # still pending: kept
