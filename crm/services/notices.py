"""Order notices as jobs in the database: created once per event and customer,
claimed by one sender at a time, and settled as sent, deferred, suppressed or dead.

The dedupe key is unique, and rows are inserted with ON CONFLICT DO NOTHING,
so a redelivered webhook or a second worker creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.clock import as_utc, utcnow
from crm.models import Conversation, Notice, NoticeStatus, Order, OrderStatus
from crm.services import notice_rules
from crm.services.audit import audit
from crm.services.outbox import backoff
from crm.shop import Notifications, ShopProfileError, load_shop_profile

LEASE = timedelta(minutes=2)
# Where a notice can go, best first when the customer used several equally lately.
CHANNELS = ("telegram", "sms", "web")


def notification_settings() -> Notifications:
    """shop.yml's `notifications`; a broken profile must not refuse the shop's updates, so defaults then."""
    try:
        return load_shop_profile().notifications
    except ShopProfileError:
        return Notifications()


def dedupe_key(kind: str, order: Order, event: str = "") -> str:
    return f"{kind}:order:{order.id}:customer:{order.customer_id}:{event}"[:200]


def enqueue(
    session: Session,
    *,
    order: Order,
    kind: str,
    event: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
    merge_window: timedelta = timedelta(0),
) -> Notice | None:
    """The notice for this event; None when it was already created (a redelivery).

    It falls due after `merge_window`, so changes close together go as one message.
    """
    moment = as_utc(now or utcnow())
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Notice)
        .values(
            dedupe_key=dedupe_key(kind, order, event),
            customer_id=order.customer_id,
            order_id=order.id,
            kind=kind,
            status=NoticeStatus.pending.value,
            due_at=moment + merge_window,
            attempts=0,
            detail=detail or {},
            deferred=False,
            created_at=moment,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notice.id)
    )
    new_id = session.execute(stmt).scalar()
    return None if new_id is None else session.get(Notice, new_id)


@dataclass(frozen=True)
class OrderBefore:
    status: OrderStatus | None
    tracking_number: str | None


def snapshot(order: Order | None) -> OrderBefore:
    if order is None:
        return OrderBefore(None, None)
    return OrderBefore(order.status, order.tracking_number)


def notices_for_change(
    session: Session,
    *,
    before: OrderBefore,
    order: Order,
    shipment_status: str | None,
    tracking_url: str | None,
    refunded: bool,
    settings: Notifications,
    now: datetime | None = None,
) -> list[Notice]:
    """Notices for what this order update changed. Orders seen for the first
    time already shipped (an import catching up) tell nobody anything."""
    if before.status is None:
        return []
    window = timedelta(minutes=settings.merge_minutes)
    tracking = order.tracking_number or ""
    detail = {"tracking_url": tracking_url} if tracking_url else {}
    wanted: list[tuple[str, str]] = []
    if order.status == OrderStatus.shipped and (
        before.status != OrderStatus.shipped or (tracking and tracking != before.tracking_number)
    ):
        wanted.append(("shipped", tracking))
    if shipment_status == "out_for_delivery" and order.status == OrderStatus.shipped:
        wanted.append(("out_for_delivery", tracking))
    if order.status == OrderStatus.delivered and before.status != OrderStatus.delivered:
        wanted.append(("delivered", ""))
    if refunded:
        wanted.append(("refunded", ""))
    created = []
    for kind, event in wanted:
        notice = enqueue(session, order=order, kind=kind, event=event, detail=detail, now=now, merge_window=window)
        if notice is not None:
            created.append(notice)
    return created


def enqueue_stuck(session: Session, *, settings: Notifications, now: datetime | None = None) -> int:
    """A "delayed" notice for each parcel shipped `stuck_after_days` ago and
    never delivered; once per order and shipment. Returns how many were new."""
    moment = as_utc(now or utcnow())
    cutoff = moment - timedelta(days=settings.stuck_after_days)
    stuck = session.scalars(
        select(Order).where(Order.status == OrderStatus.shipped, Order.shipped_at.is_not(None), Order.shipped_at <= cutoff)
    ).all()
    made = 0
    for order in stuck:
        # The platform's last word on the order counts as news from the carrier.
        last_news = max(as_utc(order.shipped_at), as_utc(order.source_updated_at or order.shipped_at))  # type: ignore[arg-type]
        if last_news > cutoff:
            continue
        days = (moment - last_news).days
        if enqueue(
            session, order=order, kind="delayed", event=order.tracking_number or "", detail={"days": days}, now=moment
        ):
            made += 1
    return made


def _free(moment: datetime) -> Any:
    return (Notice.claimed_until.is_(None)) | (Notice.claimed_until < moment)


def _take(session: Session, notice_id: int, moment: datetime, *, due_by: datetime, ours: bool = False) -> bool:
    """Hold one notice until moment + LEASE; False if someone else holds it or it is settled."""
    free = _free(moment) | (Notice.claimed_until == moment + LEASE) if ours else _free(moment)
    result = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == NoticeStatus.pending, Notice.due_at <= due_by, free)
        .values(claimed_until=moment + LEASE)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def claim_due(session: Session, *, now: datetime | None = None, limit: int = 20) -> list[Notice]:
    """Pending notices due now, held by this caller for LEASE; commit before sending."""
    moment = as_utc(now or utcnow())
    ids = session.scalars(
        select(Notice.id)
        .where(Notice.status == NoticeStatus.pending, Notice.due_at <= moment, _free(moment))
        .order_by(Notice.due_at, Notice.id)
        .limit(limit)
    ).all()
    claimed = [notice_id for notice_id in ids if _take(session, notice_id, moment, due_by=moment)]
    return list(session.scalars(select(Notice).where(Notice.id.in_(claimed)).order_by(Notice.id)))


def holds(notice: Notice, now: datetime) -> bool:
    """Whether the caller that claimed it at `now` still holds it (nobody settled or took it since)."""
    return (
        notice.status == NoticeStatus.pending
        and notice.claimed_until is not None
        and as_utc(notice.claimed_until) == as_utc(now) + LEASE
    )


def companions(session: Session, *, notice: Notice, now: datetime, window: timedelta) -> list[Notice]:
    """Other pending notices of the same customer falling due within `window`,
    now held by this caller too: they go along in the same message."""
    moment = as_utc(now)
    ids = session.scalars(
        select(Notice.id)
        .where(
            Notice.customer_id == notice.customer_id,
            Notice.status == NoticeStatus.pending,
            Notice.id != notice.id,
            Notice.due_at <= moment + window,
            # Free, or claimed in this same round (by us: the lease is the token).
            _free(moment) | (Notice.claimed_until == moment + LEASE),
        )
        .order_by(Notice.created_at, Notice.id)
    ).all()
    taken = [i for i in ids if _take(session, i, moment, due_by=moment + window, ours=True)]
    session.expire_all()
    return list(session.scalars(select(Notice).where(Notice.id.in_(taken)).order_by(Notice.created_at, Notice.id)))


def sent_today(session: Session, *, customer_id: int, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(Notice.id)).where(
                Notice.customer_id == customer_id, Notice.status == NoticeStatus.sent, Notice.sent_at >= since
            )
        )
        or 0
    )


def last_conversation(session: Session, *, customer_id: int) -> Conversation | None:
    """Where the customer last talked to the shop, on a channel a notice can reach."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id, Conversation.channel.in_(CHANNELS))
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(1)
    ).first()


def suppress(notice: Notice, reason: str, *, into: Notice | None = None) -> None:
    notice.claimed_until = None
    notice.status = NoticeStatus.suppressed
    notice.reason = reason
    notice.merged_into_id = into.id if into is not None else None


def defer(notice: Notice, until: datetime) -> None:
    notice.claimed_until = None
    notice.due_at = until
    notice.deferred = True


def mark_sent(notice: Notice, *, channel: str, conversation_id: str, text: str, now: datetime) -> None:
    notice.claimed_until = None
    notice.status = NoticeStatus.sent
    notice.attempts += 1
    notice.channel = channel
    notice.conversation_id = conversation_id
    notice.text = text
    notice.sent_at = now
    notice.reason = None


def mark_failed(notice: Notice, *, error: str, max_attempts: int, now: datetime, first_retry: timedelta) -> None:
    notice.claimed_until = None
    notice.attempts += 1
    notice.reason = error[:300]
    if notice.attempts >= max_attempts:
        notice.status = NoticeStatus.dead
    else:
        notice.due_at = as_utc(now) + backoff(notice.attempts, first=first_retry)


def purge_settled(session: Session, *, now: datetime | None = None, keep: timedelta = timedelta(days=90)) -> int:
    """Sent and suppressed notices older than `keep`; their keys have done their job by then."""
    cutoff = as_utc(now or utcnow()) - keep
    result = session.execute(
        delete(Notice).where(
            Notice.status.in_([NoticeStatus.sent, NoticeStatus.suppressed]),
            Notice.created_at < cutoff,
            # A notice others were merged into goes last.
            ~Notice.id.in_(select(Notice.merged_into_id).where(Notice.merged_into_id.is_not(None))),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def undeliverable(session: Session, *, limit: int = 50) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice).where(Notice.status == NoticeStatus.dead).order_by(Notice.id.desc()).limit(limit)
        )
    )


def retry(session: Session, *, notice_id: int, actor: str) -> Notice | None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.status != NoticeStatus.dead:
        return None
    notice.status = NoticeStatus.pending
    notice.attempts = 0
    notice.claimed_until = None
    notice.due_at = utcnow()
    audit(session, actor=actor, action="notice.retry", subject=f"notice:{notice.id}")
    return notice


def mark_replied(session: Session, *, conversation_id: str, since: timedelta = timedelta(days=2)) -> Notice | None:
    """The latest notice in this conversation, sent recently and not yet answered, now answered."""
    notice = session.scalars(
        select(Notice)
        .where(
            Notice.conversation_id == conversation_id,
            Notice.status == NoticeStatus.sent,
            Notice.replied_at.is_(None),
            Notice.sent_at >= utcnow() - since,
        )
        .order_by(Notice.sent_at.desc())
        .limit(1)
    ).first()
    if notice is not None:
        notice.replied_at = utcnow()
    return notice


def fields(notice: Notice, settings: Notifications) -> dict[str, Any]:
    """What a template can name: {number}, {items}, {carrier}, {tracking_number}, {tracking_link}, {days}, {name}."""
    order = notice.order
    assert order is not None
    tracking = order.tracking_number or ""
    link = notice.detail.get("tracking_url") or ""
    pattern = settings.tracking_urls.get(order.carrier or "", "")
    if not link and pattern and tracking:
        link = pattern.replace("{tracking_number}", tracking)
    return {
        "number": order.number,
        "items": notice_rules.items_text([(line.product.name, line.quantity) for line in order.lines]),
        "carrier": order.carrier or "the carrier",
        "tracking_number": tracking,
        "tracking_link": link or tracking,
        "days": notice.detail.get("days", ""),
        "name": notice.customer.first_name,
    }
