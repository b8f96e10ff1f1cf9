"""Order notices through the running gateway: a Shopify fulfilment reaches an opted-in
widget customer as one message, stored in the transcript and counted in /metrics."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, time, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.identity import hash_session_token
from crm.models import Conversation, Message, Notice, NoticeStatus, OrderStatus, Sender
from crm.services.notice_rules import customer_zone, in_quiet_hours, next_allowed
from tests.factories import make_customer, make_order
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.widget import WidgetClient
from tests.shop_fixtures import fixture_bytes

pytestmark = pytest.mark.asyncio
SECRET = "shpss_test_secret"
QUIET = (time(21, 0), time(8, 0))  # the shop profile's default quiet hours
# London, Tokyo and Auckland: at any moment one is awake and one asleep.
LOCALES = ("en-GB", "ja", "en-NZ")


def _locale(*, awake: bool) -> str:
    """A locale whose customers are (not) in their quiet hours right now, so the
    test does not depend on when it runs."""
    now = datetime.now(timezone.utc)
    for locale in LOCALES:
        if in_quiet_hours(now, customer_zone(locale, "Europe/London"), QUIET) != awake:
            return locale
    raise AssertionError("no locale fits")


async def _post_fulfilment(gateway: Gateway, event_id: str) -> dict[str, Any]:
    body = fixture_bytes("shopify_fulfillments_create")
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    async with httpx.AsyncClient() as http:
        response = await http.post(gateway.url + "/webhooks/shopify", content=body, headers={
            "X-Shopify-Topic": "fulfillments/create", "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Event-Id": event_id})
    return response.json()


def _customer_with_order(db: sessionmaker[Session], token: str, *, opt_in: bool | None, awake: bool = True) -> str:
    with db() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.address == hash_session_token(token))).one()
        customer = make_customer(session, first_name="Nia", locale=_locale(awake=awake))
        customer.order_updates_opt_in = opt_in
        conversation.customer_id = customer.id
        order = make_order(session, customer=customer, number="9999", status=OrderStatus.paid,
                           lines=[("Blue Mug", 2)])
        order.platform_id = "shopify:820982911946154508"
        session.commit()
        return conversation.id


async def _open(tab: WidgetClient) -> str:
    session = await tab.recv()
    assert (await tab.recv())["type"] == "history"
    return session["session"]


async def test_a_fulfilment_reaches_an_opted_in_widget_customer_once(
    start_gateway: Callable[..., Any], db: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway(shopify_webhook_secret=SECRET, notices_enabled=True, notices_poll_seconds=0.05)
    async with gateway.connect() as tab:
        conversation_id = _customer_with_order(db, await _open(tab), opt_in=True)
        assert await _post_fulfilment(gateway, "ful-1") == {"outcome": "applied"}
        assert await _post_fulfilment(gateway, "ful-1") == {"outcome": "duplicate"}
        assert await _post_fulfilment(gateway, "ful-2") == {"outcome": "applied"}  # same fact, new event id
        with db() as session:
            # The merge window (10 min by default) would hold it: make it due now.
            for notice in session.scalars(select(Notice)):
                notice.due_at = notice.created_at
            session.commit()
        frame, _ = await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system", timeout=5)
        assert "#9999" in frame["text"] and "1Z2345" in frame["text"] and "UPS" in frame["text"]
        assert "https://www.ups.com/WebTracking" in frame["text"]
        with pytest.raises(TimeoutError):
            await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system", timeout=0.5)
        # The answer is read with that order in context.
        await tab.send({"type": "message", "id": "c-1", "text": "where is it now?"})
        await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "bot", timeout=5)
        [call] = fake_rasa.calls_for(conversation_id)
        assert call.metadata is not None and call.metadata["order_in_context"] == "9999"
    with db() as session:
        [notice] = session.scalars(select(Notice)).all()
        assert notice.status == NoticeStatus.sent and notice.conversation_id == conversation_id
        assert notice.replied_at is not None
        stored = session.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.sender == Sender.system)).all()
        assert [m.data["kind"] for m in stored] == ["order_notice"]  # type: ignore[index]
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(gateway.url + "/metrics")).text
    assert 'gateway_notices_total{channel="web",outcome="sent",reason=""} 1.0' in metrics
    assert 'gateway_notices_total{channel="web",outcome="replied",reason=""} 1.0' in metrics


async def test_a_customer_who_never_said_yes_gets_nothing(
    start_gateway: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    gateway = await start_gateway(shopify_webhook_secret=SECRET, notices_enabled=True, notices_poll_seconds=0.05)
    async with gateway.connect() as tab:
        _customer_with_order(db, await _open(tab), opt_in=False)
        assert await _post_fulfilment(gateway, "ful-3") == {"outcome": "applied"}
        with db() as session:
            for notice in session.scalars(select(Notice)):
                notice.due_at = notice.created_at
            session.commit()
        with pytest.raises(TimeoutError):
            await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system", timeout=1.0)
    with db() as session:
        [notice] = session.scalars(select(Notice)).all()
        assert (notice.status, notice.reason) == (NoticeStatus.suppressed, "no_consent")


async def test_in_the_customers_night_it_waits_for_their_morning(
    start_gateway: Callable[..., Any], db: sessionmaker[Session]
) -> None:
    gateway = await start_gateway(shopify_webhook_secret=SECRET, notices_enabled=True, notices_poll_seconds=0.05)
    async with gateway.connect() as tab:
        _customer_with_order(db, await _open(tab), opt_in=True, awake=False)
        assert await _post_fulfilment(gateway, "ful-4") == {"outcome": "applied"}
        with db() as session:
            for notice in session.scalars(select(Notice)):
                notice.due_at = notice.created_at
            session.commit()
        with pytest.raises(TimeoutError):
            await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system", timeout=1.0)
    with db() as session:
        [notice] = session.scalars(select(Notice)).all()
        assert notice.status == NoticeStatus.pending and notice.deferred
        zone = customer_zone(notice.customer.locale, "Europe/London")
        morning = notice.due_at.replace(tzinfo=timezone.utc).astimezone(zone)
        assert (morning.hour, morning.minute) == (8, 0)
        assert notice.due_at.replace(tzinfo=timezone.utc) == next_allowed(datetime.now(timezone.utc), zone, QUIET)
