"""The gateway's side of shop updates: one unit of work per event, then the
customers whose requests it settled are told on their channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import unit_of_work
from bot.conversations import ConversationService, DeliveryFailed
from crm.models import ShopRequest
from crm.services import shop_requests
from crm.services.shop_sync import CustomerUpdate, IncomingEvent, OrderUpdate, SyncResult, receive

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Notice:
    conversation_id: str
    text: str
    reference: str
    status: str


@dataclass
class ShopInbox:
    sessionmaker: sessionmaker[Session]
    service: ConversationService | None

    async def receive(self, event: IncomingEvent, update: OrderUpdate | CustomerUpdate | None) -> SyncResult:
        def work(session: Session) -> tuple[SyncResult, list[Notice]]:
            result = receive(session, event=event, update=update)
            return result, _notices(session, result.settled)

        try:
            result, notices = await self._unit(work)
        except IntegrityError:
            # Two deliveries created the same new order or customer at once; the
            # loser's whole transaction was rolled back, and now finds it there.
            result, notices = await self._unit(work)
        logger.info(
            "shop update",
            extra={"source": event.source, "topic": event.topic, "outcome": result.outcome, "subject": result.subject},
        )
        await self.tell(notices)
        return result

    async def settle(self, *, reference: str, accepted: bool, actor: str, reason: str | None) -> ShopRequest | None:
        """Accept or refuse a request; None if there is none with this reference.

        RequestClosed / ValueError: already settled / refused without a reason.
        """

        def work(session: Session) -> tuple[ShopRequest | None, list[Notice]]:
            request = shop_requests.get_request(session, reference=reference)
            if request is None:
                return None, []
            shop_requests.settle(session, request=request, accepted=accepted, actor=actor, reason=reason)
            return request, _notices(session, [request.id])

        request, notices = await self._unit(work)
        await self.tell(notices)
        return request

    async def tell(self, notices: list[Notice]) -> None:
        for notice in notices:
            if self.service is None:
                continue
            try:
                await self.service.notify(
                    conversation_id=notice.conversation_id,
                    text=notice.text,
                    data={"kind": "shop_request", "reference": notice.reference, "status": notice.status},
                )
            except DeliveryFailed as exc:
                # Stored in the transcript: the customer sees it when they come back.
                logger.warning("request outcome stored but not delivered", extra={"error": str(exc)})

    async def _unit(self, fn: Callable[[Session], T]) -> T:
        return await unit_of_work.run_in_thread(self.sessionmaker, fn)


def _notices(session: Session, request_ids: list[int]) -> list[Notice]:
    notices = []
    for request_id in request_ids:
        request = session.get(ShopRequest, request_id)
        if request is not None and request.conversation_id:
            notices.append(
                Notice(
                    conversation_id=request.conversation_id,
                    text=shop_requests.outcome_text(request),
                    reference=request.reference,
                    status=request.status.value,
                )
            )
    return notices
