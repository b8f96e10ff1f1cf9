"""Replies owed after a crash: what was stored for the customer but never reached their channel.

The gateway stores a reply `pending` in the turn's transaction, sends it, then
marks it `sent` (or `refused` when the platform said no). A gateway killed
between the two leaves it pending; the widget would show it from the history on
reconnect, but an SMS or Telegram customer would never get it. The recovery
pass (bot/recovery.py) sends what is still pending after `grace`, oldest first,
claiming each row before sending it so that two gateways never both send it.
At least once: a crash after the platform took a message and before the mark
sends it again, which is the right side to err on for a promise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.core.messages import ConversationRef, DeliveryFailed, OutboundMessage
from bot.persistence.rows import get_conversation
from bot.persistence.transcript import as_outbound
from crm.models import Delivery, Message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owed:
    conversation: ConversationRef
    outbound: OutboundMessage


def settle(session: Session, *, ids: Iterable[str], delivery: Delivery) -> None:
    """Mark stored messages as sent or refused (ids as OutboundMessage.id; unstored ones are skipped)."""
    numbers = [int(i) for i in ids if i.isdigit()]
    if numbers:
        session.execute(
            update(Message)
            .where(Message.id.in_(numbers), Message.delivery == Delivery.pending)
            .values(delivery=delivery)
            .execution_options(synchronize_session=False)
        )


def claim_owed(session: Session, *, stored_before: datetime, stored_after: datetime, limit: int = 50) -> list[Owed]:
    """Take up to `limit` pending messages stored in the window, oldest first; each is claimed (`sent`)."""
    rows = session.scalars(
        select(Message)
        .where(
            Message.delivery == Delivery.pending,
            Message.created_at < stored_before,
            Message.created_at > stored_after,
        )
        .order_by(Message.id)
        .limit(limit)
    ).all()
    owed: list[Owed] = []
    for message in rows:
        taken = session.execute(
            update(Message)
            .where(Message.id == message.id, Message.delivery == Delivery.pending)
            .values(delivery=Delivery.sent)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            continue  # another gateway's pass took it
        conversation = get_conversation(session, conversation_id=message.conversation_id)
        if conversation is not None:
            owed.append(Owed(conversation, as_outbound(message)))
    return owed


def release(session: Session, *, message_id: str) -> None:
    """Sending failed for a reason other than a refusal: owed again on the next pass."""
    if message_id.isdigit():
        session.execute(
            update(Message)
            .where(Message.id == int(message_id), Message.delivery == Delivery.sent)
            .values(delivery=Delivery.pending)
            .execution_options(synchronize_session=False)
        )


class DeliveryLedger:
    """The gateway's side of the ledger: marks what went out, and sends what is owed.

    `db` runs one unit of work in a worker thread (bot.core.db.UnitOfWork.db). A mark
    the database cannot take now (locked, gone) is kept and written on the next
    recovery pass, so a reply that did go out is not sent a second time.
    """

    def __init__(self, db: Callable[..., Awaitable[Any]], *, grace: timedelta, max_age: timedelta) -> None:
        self._db = db
        self.grace = grace
        self.max_age = max_age
        self._unsettled: list[tuple[list[str], Delivery]] = []
        self._writing: set[asyncio.Task[None]] = set()

    async def mark(self, ids: list[str], delivery: Delivery) -> None:
        """Record that these messages went out (or were refused), behind the turn: the
        write never delays the customer's next frame ("typing off") or the next turn."""
        if not any(i.isdigit() for i in ids):
            return
        task = asyncio.ensure_future(self._write(list(ids), delivery))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def settled(self) -> None:
        """Wait for the marks in progress (the recovery pass, shutdown, tests)."""
        while self._writing:
            await asyncio.gather(*set(self._writing), return_exceptions=True)

    async def _write(self, ids: list[str], delivery: Delivery) -> None:
        try:
            await self._db(settle, ids=ids, delivery=delivery)
        except SQLAlchemyError:
            logger.warning("delivery mark deferred: database unavailable", extra={"messages": len(ids)})
            self._unsettled.append((ids, delivery))

    async def pay(self, send: Callable[[ConversationRef, OutboundMessage], Awaitable[None]], *, now: datetime) -> int:
        """Write deferred marks, then send what is still owed; the number of messages sent."""
        await self.settled()
        while self._unsettled:
            ids, delivery = self._unsettled[0]
            await self._db(settle, ids=ids, delivery=delivery)
            self._unsettled.pop(0)
        owed: list[Owed] = await self._db(
            claim_owed, stored_before=now - self.grace, stored_after=now - self.max_age
        )
        paid = 0
        for item in owed:
            try:
                await send(item.conversation, item.outbound)
            except DeliveryFailed:
                await self._db(settle_claimed, message_id=item.outbound.id, delivery=Delivery.refused)
                continue
            except Exception:
                logger.warning("owed reply not sent; kept for the next pass", exc_info=True)
                await self._db(release, message_id=item.outbound.id)
                continue
            paid += 1
        if paid:
            logger.info("owed replies sent after a restart", extra={"messages": paid})
        return paid


def settle_claimed(session: Session, *, message_id: str, delivery: Delivery) -> None:
    """A claimed row whose send ended otherwise than sent (the claim marked it `sent`)."""
    if message_id.isdigit():
        session.execute(
            update(Message)
            .where(Message.id == int(message_id), Message.delivery == Delivery.sent)
            .values(delivery=delivery)
            .execution_options(synchronize_session=False)
        )
