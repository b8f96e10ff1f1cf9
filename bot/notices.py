"""Sending order notices: consent, quiet hours, the daily cap and merging
decided in one unit of work, then the message goes out through
`ConversationService.notify`, the path every gateway message takes (stored in
the transcript, shown to staff live, delivered by the channel).

It runs inside the gateway because the channels live there: the widget's
open tabs, the Telegram bot and the Twilio client. Jobs are rows in the
database, claimed with a lease, so several gateways or a restart neither lose
nor double a notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import sms_store
from bot.conversations import ConversationService, DeliveryFailed
from bot.metrics import Metrics
from bot.persistence import rows
from bot.unit_of_work import run as run_unit
from crm.clock import as_utc, utcnow
from crm.models import ChannelIdentity, Conversation, Customer, Notice, NoticeStatus
from crm.services import notice_rules, notices
from crm.shop import Notifications, ShopProfile, ShopProfileError, load_shop_profile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    notice_id: int
    conversation_id: str
    channel: str
    text: str
    order_number: str
    kind: str


@dataclass
class Decision:
    delivery: Delivery | None = None
    # (outcome, reason, channel) for the metrics.
    counts: list[tuple[str, str, str]] = field(default_factory=list)


def _profile() -> ShopProfile | None:
    try:
        return load_shop_profile()
    except ShopProfileError:
        return None


def _reach(session: Session, customer: Customer, channels: set[str]) -> Conversation | None:
    """The conversation the customer last used, else a new one on a channel we know them on.
    A number that texted STOP gets no notices by SMS (START brings them back)."""
    if "sms" in channels and customer.phone and not sms_store.may_text(session, number=customer.phone):
        channels = channels - {"sms"}
    last = notices.last_conversation(session, customer_id=customer.id)
    if last is not None and last.channel in channels:
        if last.channel != "sms" or sms_store.may_text(session, number=last.address):
            return last
    telegram = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id, ChannelIdentity.channel == "telegram")
    ).first()
    # A private Telegram chat's id is the user's id.
    if telegram is not None and "telegram" in channels:
        address, channel = telegram.external_user_id, "telegram"
    elif customer.phone and "sms" in channels:
        address, channel = customer.phone, "sms"
    else:
        return None
    existing = session.scalars(
        select(Conversation).where(Conversation.channel == channel, Conversation.address == address)
    ).first()
    if existing is not None:
        return existing if existing.customer_id in (None, customer.id) else None
    ref = rows.create_conversation(
        session, channel=channel, address=address, customer_external_id=customer.external_id,
        locale=customer.locale or "en",
    )
    conversation = session.get(Conversation, ref.id)
    return conversation


def decide(
    session: Session,
    *,
    notice_id: int,
    now: datetime,
    settings: Notifications,
    shop_zone: str,
    channels: set[str],
) -> Decision:
    """What to do with one claimed notice; the changes are in `session`."""
    notice = session.get(Notice, notice_id)
    decision = Decision()
    if notice is None or not notices.holds(notice, now):
        return decision  # settled or taken over since this sender claimed it
    if notice.order is None:
        notices.suppress(notice, "order_gone")
        return decision
    customer = notice.customer
    if customer.order_updates_opt_in is not True:
        notices.suppress(notice, "no_consent")
        decision.counts.append(("suppressed", "no_consent", ""))
        return decision
    zone = notice_rules.customer_zone(customer.locale, shop_zone)
    allowed = notice_rules.next_allowed(now, zone, settings.quiet_range())
    if allowed > as_utc(now):
        notices.defer(notice, allowed)
        decision.counts.append(("deferred", "quiet_hours", ""))
        return decision
    conversation = _reach(session, customer, channels)
    if conversation is None:
        notices.suppress(notice, "no_channel")
        decision.counts.append(("suppressed", "no_channel", ""))
        return decision
    since = notice_rules.local_day_start(now, zone)
    if notices.sent_today(session, customer_id=customer.id, since=since) >= settings.daily_cap:
        notices.suppress(notice, "cap")
        decision.counts.append(("suppressed", "cap", conversation.channel))
        return decision
    window = timedelta(minutes=settings.merge_minutes)
    # merge_minutes 0: every change is a message of its own.
    batch = [notice, *(notices.companions(session, notice=notice, now=now, window=window) if window else [])]
    batch = [n for n in batch if n.order is not None]
    batch.sort(key=lambda n: (as_utc(n.created_at), n.id))
    parts = [
        (n.order.number, n.kind, notice_rules.render(settings.templates[n.kind], notices.fields(n, settings)))
        for n in batch
        if n.order is not None and n.kind in settings.templates
    ]
    for other in batch:
        if other is not notice:
            notices.suppress(other, "merged", into=notice)
            decision.counts.append(("suppressed", "merged", conversation.channel))
    # The order the customer will most likely ask about next: the latest news.
    latest = batch[-1]
    assert latest.order is not None
    decision.delivery = Delivery(
        notice_id=notice.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        text=notice_rules.merge(parts),
        order_number=latest.order.number,
        kind=notice.kind,
    )
    return decision


@dataclass
class NoticeSender:
    sessionmaker: sessionmaker[Session]
    service: ConversationService
    metrics: Metrics
    channels: Callable[[], set[str]]
    clock: Callable[[], datetime] = utcnow
    profile: Callable[[], ShopProfile | None] = _profile
    max_attempts: int = 6
    first_retry: timedelta = timedelta(seconds=30)

    async def run_once(self) -> int:
        """Handle what is due; returns how many notices went out."""
        now = as_utc(self.clock())
        due = await asyncio.to_thread(self._unit, lambda s: [n.id for n in notices.claim_due(s, now=now)])
        sent = 0
        for notice_id in due:
            sent += await self._one(notice_id, now)
        return sent

    async def _one(self, notice_id: int, now: datetime) -> int:
        profile = self.profile()
        settings = profile.notifications if profile is not None else Notifications()
        zone = profile.opening_hours.timezone if profile is not None else "UTC"
        decision = await asyncio.to_thread(
            self._unit,
            lambda s: decide(
                s, notice_id=notice_id, now=now, settings=settings, shop_zone=zone, channels=self.channels()
            ),
        )
        for outcome, reason, channel in decision.counts:
            self.metrics.notices.labels(outcome, reason, channel).inc()
        delivery = decision.delivery
        if delivery is None:
            return 0
        error: str | None = None
        try:
            delivered = await self.service.notify(
                conversation_id=delivery.conversation_id,
                text=delivery.text,
                data={"kind": "order_notice", "notice": delivery.kind, "order_number": delivery.order_number},
            )
            if not delivered:
                error = "conversation gone"
        except DeliveryFailed as exc:
            error = str(exc) or "delivery failed"
        await asyncio.to_thread(self._unit, lambda s: self._record(s, delivery, error))
        return 1 if error is None else 0

    def _record(self, session: Session, delivery: Delivery, error: str | None) -> None:
        notice = session.get(Notice, delivery.notice_id)
        if notice is None:
            return
        now = as_utc(self.clock())
        if error is None:
            notices.mark_sent(
                notice, channel=delivery.channel, conversation_id=delivery.conversation_id, text=delivery.text, now=now
            )
            self.metrics.notices.labels("sent", "", delivery.channel).inc()
            return
        notices.mark_failed(
            notice, error=error, max_attempts=self.max_attempts, now=now, first_retry=self.first_retry
        )
        # What was merged into it waits with it, to be merged again: they go or die together.
        for other in session.scalars(select(Notice).where(Notice.merged_into_id == notice.id)):
            other.status = notice.status
            other.due_at = notice.due_at
            other.claimed_until = None
            other.merged_into_id = None
            other.reason = None if notice.status == NoticeStatus.pending else notice.reason
        outcome = "dead" if notice.status == NoticeStatus.dead else "failed"
        self.metrics.notices.labels(outcome, "", delivery.channel).inc()
        logger.warning(
            "order notice not delivered",
            extra={"notice_id": notice.id, "attempts": notice.attempts, "status": notice.status.value, "error": error},
        )

    def _unit(self, fn: Callable[[Session], Any]) -> Any:
        return run_unit(self.sessionmaker, fn)


async def serve(sender: NoticeSender, *, poll_seconds: float, stop: asyncio.Event) -> None:
    """Send due notices until `stop`; a failing round is logged and the next one tries again."""
    while not stop.is_set():
        try:
            await sender.run_once()
        except Exception:
            # The database blinked: notices stay in their table, the next round picks them up.
            logger.exception("order notices round failed")
        try:
            await asyncio.wait_for(stop.wait(), poll_seconds)
        except TimeoutError:
            pass
