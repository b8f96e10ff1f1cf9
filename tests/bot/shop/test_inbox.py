"""bot/shop/inbox.py: one unit of work per shop event or settlement, then the customers whose
requests it settled are told on their own channel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.shop.inbox import ShopInbox
from crm.clock import utcnow
from crm.models import OrderStatus, ShopRequest, ShopRequestKind, ShopRequestStatus
from crm.services.shop_requests import RequestClosed, create_request
from crm.services.shop_sync import IncomingEvent, OrderUpdate
from tests.factories import make_customer, make_order
from tests.fakes.rigs import ServiceRig


def _request(db: sessionmaker[Session], conversation_id: str | None) -> str:
    with db() as session:
        order = make_order(session, customer=make_customer(session, first_name="Vera"), number="1044",
                           status=OrderStatus.paid)  # fmt: skip
        reference = create_request(
            session, order=order, kind=ShopRequestKind.cancel, actor="customer:test", conversation_id=conversation_id
        ).reference
        session.commit()
    return reference


def _status(db: sessionmaker[Session], reference: str) -> ShopRequestStatus:
    with db() as session:
        return session.scalars(select(ShopRequest.status).where(ShopRequest.reference == reference)).one()


async def test_a_request_settled_by_hand_is_stored_and_told_to_the_customer(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    reference = _request(rig.db, conversation.id)
    inbox = ShopInbox(sessionmaker=rig.db, service=rig.service)
    request = await inbox.settle(reference=reference, accepted=False, actor="staff:1", reason="Already packed")
    assert request is not None and _status(rig.db, reference) is ShopRequestStatus.refused
    (told,) = [o for cid, o in rig.channel.sent if cid == conversation.id]
    assert told.text == "Sorry: the team couldn't cancel order #1044. Their reason: Already packed"
    with pytest.raises(RequestClosed):
        await inbox.settle(reference=reference, accepted=True, actor="staff:1", reason=None)
    assert await inbox.settle(reference="R-NONE", accepted=True, actor="staff:1", reason=None) is None
    assert len(rig.channel.sent) == 1


async def test_an_order_update_that_answers_a_request_settles_it_and_the_customer_hears(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    reference = _request(rig.db, conversation.id)
    inbox = ShopInbox(sessionmaker=rig.db, service=rig.service)
    event = IncomingEvent(source="api", key="orders/1044@1", topic="orders/updated", payload=None)
    update = OrderUpdate(number="1044", updated_at=utcnow() + timedelta(minutes=1), status=OrderStatus.cancelled)
    result = await inbox.receive(event, update)
    assert result.outcome == "applied" and len(result.settled) == 1
    assert _status(rig.db, reference) is ShopRequestStatus.accepted
    assert rig.channel.texts(conversation.id) == [
        "Good news: the team has cancelled order #1044. If you paid for it, the money goes back the way you paid."
    ]
    again = await inbox.receive(event, update)  # the same delivery again
    assert again.outcome == "duplicate" and len(rig.channel.sent) == 1


async def test_without_a_service_or_a_conversation_the_settlement_is_only_stored(rig: ServiceRig) -> None:
    reference = _request(rig.db, None)
    assert await ShopInbox(sessionmaker=rig.db, service=None).settle(
        reference=reference, accepted=True, actor="staff:1", reason=None
    )
    assert _status(rig.db, reference) is ShopRequestStatus.accepted and rig.channel.sent == []
