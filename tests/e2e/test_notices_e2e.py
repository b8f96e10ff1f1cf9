"""Order notices end to end on the real stack (trained model, action server,
gateway and worker, the fake Bot API and fake Twilio): a Shopify fulfilment
reaches an opted-in customer on Telegram or by SMS exactly once; at night in
the customer's time zone it waits for their morning; a customer who said
"stop order updates" gets nothing; and "where is it now?" is answered about
the order the notice was about."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
from datetime import datetime, time, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot.supervisor import Stack
from crm.clock import utcnow
from crm.db import session_scope
from crm.models import ChannelIdentity, Customer, Notice, NoticeStatus, OrderStatus
from crm.services.notice_rules import customer_zone, in_quiet_hours
from tests.e2e.test_telegram_e2e import TelegramCustomer, text_of, wait
from tests.factories import make_customer, make_order
from tests.fakes.shop import SHOPIFY_SECRET
from tests.fakes.telegram import FakeTelegram, TelegramUser
from tests.fakes.twilio import FakeTwilioApi
from tests.shop_fixtures import fixture

pytestmark = pytest.mark.asyncio(loop_scope="function")

QUIET = (time(21, 0), time(8, 0))  # shop.yml's quiet hours
LOCALES = ("en-GB", "ja", "en-NZ")  # at any moment one of them is awake, one asleep
_numbers = itertools.count(7301)
_users = itertools.count(881_000_001)


def _locale(*, awake: bool) -> str:
    now = datetime.now(timezone.utc)
    for locale in LOCALES:
        if in_quiet_hours(now, customer_zone(locale, "Europe/London"), QUIET) != awake:
            return locale
    raise AssertionError("no locale fits")


def _customer(crm_url: str, *, opt_in: bool | None, awake: bool = True, telegram: int | None = None,
              phone: str | None = None) -> tuple[str, int]:
    """A customer with a paid Shopify order; (order number, platform order id)."""
    number = str(next(_numbers))
    platform_id = 9_100_000_000 + int(number)
    with session_scope(crm_url) as session:
        customer = make_customer(session, external_id=f"N{number}", first_name="Noor", phone=phone,
                                 locale=_locale(awake=awake), telegram_user_id=telegram)
        customer.order_updates_opt_in = opt_in
        order = make_order(session, customer=customer, number=number, status=OrderStatus.paid,
                           placed_at=utcnow() - timedelta(days=1), lines=[("Oak Salt Cellar", 1, "15.00")])
        order.platform_id = f"shopify:{platform_id}"
    return number, platform_id


async def _fulfil(stack: Stack, crm_url: str, number: str, platform_id: int, tracking: str) -> None:
    body = fixture("shopify_fulfillments_create") | {
        "order_id": platform_id, "name": f"#{number}.1", "tracking_number": tracking,
        "tracking_numbers": [tracking], "tracking_company": "Royal Mail", "tracking_url": None,
        "tracking_urls": [], "updated_at": utcnow().isoformat(), "created_at": utcnow().isoformat(),
    }
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Topic": "fulfillments/create", "X-Shopify-Hmac-Sha256": signature,
               "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as http:
        for delivery in ("1", "2"):  # Shopify retries: the same event twice
            response = await http.post(stack.gateway_url + "/webhooks/shopify", content=raw,
                                       headers=headers | {"X-Shopify-Event-Id": f"ful-{number}"})
            assert response.status_code == 200, response.text
            assert response.json()["outcome"] == ("applied" if delivery == "1" else "duplicate")
    # The merge window (shop.yml: 10 minutes) has passed.
    with session_scope(crm_url) as session:
        session.execute(update(Notice).where(Notice.order.has(number=number)).values(due_at=utcnow()))


def _notice(crm_url: str, number: str) -> Notice:
    with session_scope(crm_url) as session:
        session.expire_on_commit = False
        return session.scalars(select(Notice).where(Notice.order.has(number=number))).one()


async def _settled(crm_url: str, number: str, timeout: float = 30) -> Notice:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        notice = _notice(crm_url, number)
        if notice.status != NoticeStatus.pending or notice.deferred:
            return notice
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"notice still pending: {notice.reason}")
        await asyncio.sleep(0.2)


async def test_a_fulfilment_reaches_a_linked_telegram_customer_once_and_the_reply_is_about_that_order(
    stack: Stack, crm_url: str, fake_telegram: FakeTelegram
) -> None:
    user = TelegramUser(user_id=next(_users), first_name="Noor")
    chat = TelegramCustomer(stack, fake_telegram, user)
    number, platform_id = _customer(crm_url, opt_in=True, telegram=user.user_id)
    await _fulfil(stack, crm_url, number, platform_id, "RM7301GB")
    [message] = await chat.messages(timeout=30)
    assert f"#{number}" in message["text"] and "RM7301GB" in message["text"] and "Royal Mail" in message["text"]
    assert await chat.nothing_more(6) == []  # once, although Shopify sent it twice
    assert (await _settled(crm_url, number)).status == NoticeStatus.sent
    answer = text_of(await chat.say("where is it now?"))
    assert f"#{number}" in answer and "RM7301GB" in answer, answer
    assert _notice(crm_url, number).replied_at is not None


async def test_a_fulfilment_reaches_an_sms_customer(
    stack: Stack, crm_url: str, fake_twilio: FakeTwilioApi
) -> None:
    phone = "+447700900731"
    number, platform_id = _customer(crm_url, opt_in=True, phone=phone)
    await _fulfil(stack, crm_url, number, platform_id, "RM7302GB")
    [text] = await fake_twilio.texts(phone, 1, timeout=30)
    assert f"#{number}" in text and "RM7302GB" in text
    await asyncio.sleep(6)
    assert len(fake_twilio.bodies_to(phone)) == 1


async def test_at_night_in_the_customers_time_zone_it_waits_for_their_morning(
    stack: Stack, crm_url: str, fake_telegram: FakeTelegram
) -> None:
    user = TelegramUser(user_id=next(_users))
    chat = TelegramCustomer(stack, fake_telegram, user)
    number, platform_id = _customer(crm_url, opt_in=True, awake=False, telegram=user.user_id)
    await _fulfil(stack, crm_url, number, platform_id, "RM7303GB")
    notice = await _settled(crm_url, number)
    assert notice.status == NoticeStatus.pending and notice.deferred
    with session_scope(crm_url) as session:
        locale = session.scalars(select(Customer.locale).where(Customer.external_id == f"N{number}")).one()
    morning = notice.due_at.replace(tzinfo=timezone.utc).astimezone(customer_zone(locale, "Europe/London"))
    assert (morning.hour, morning.minute) == (8, 0)
    assert await chat.nothing_more(3) == []
    # Morning comes (the clock moved on): it goes.
    with session_scope(crm_url) as session:
        session.execute(update(Notice).where(Notice.id == notice.id).values(due_at=utcnow()))
        session.execute(update(Customer).where(Customer.external_id == f"N{number}")
                        .values(locale=_locale(awake=True)))
    [message] = await chat.messages(timeout=30)
    assert "RM7303GB" in message["text"]


async def test_a_customer_who_said_stop_order_updates_gets_nothing(
    stack: Stack, crm_url: str, fake_telegram: FakeTelegram
) -> None:
    user = TelegramUser(user_id=next(_users))
    chat = TelegramCustomer(stack, fake_telegram, user)
    number, platform_id = _customer(crm_url, opt_in=True, telegram=user.user_id)
    answer = text_of(await chat.say("stop order updates"))
    assert "no more order updates" in answer.lower(), answer
    await _fulfil(stack, crm_url, number, platform_id, "RM7304GB")
    notice = await _settled(crm_url, number)
    assert (notice.status, notice.reason) == (NoticeStatus.suppressed, "no_consent")
    assert await chat.nothing_more(3) == []
    with session_scope(crm_url) as session:
        linked = session.scalars(select(ChannelIdentity).where(
            ChannelIdentity.external_user_id == str(user.user_id))).one()
        assert session.get(Customer, linked.customer_id).order_updates_opt_in is False  # type: ignore[union-attr]
