"""bot/routers/sms.py: Twilio's inbound-SMS webhook refuses what Twilio did not sign (signatures
from twilio's own RequestValidator, a real uvicorn) and is not there when SMS is off. What the
SMS channel does with a signed text: tests/bot/channels/test_sms_gateway.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from tests.bot.sms_support import KNOWN, PATH, STRANGER, assert_nothing_processed, deliver, sms_settings
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio import PUBLIC_BASE_URL, FakeTwilioApi, Phone

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def gateway(twilio: FakeTwilioApi, start_gateway: Callable[..., Any]) -> Gateway:
    # Twilio first: the gateway stops (and drains its texts) before the fake does.
    return await start_gateway(**sms_settings(twilio))


# -- signatures ----------------------------------------------------------------------------------


async def test_a_missing_signature_is_refused_and_nothing_is_processed(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    response = await deliver(gateway, Phone(STRANGER), "hello", signature=None)
    assert response.status_code == 403
    await assert_nothing_processed(db, fake_rasa, twilio)
    assert await gateway.metric(
        "gateway_rejected_messages_total", {"channel": "sms", "reason": "bad_signature"}
    ) == 1


async def test_a_signature_made_with_another_token_is_refused(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    form = phone.form("hello")
    forged = phone.sign(form, token="not-the-shops-token")
    response = await deliver(gateway, phone, "", form=form, signature=forged)
    assert response.status_code == 403
    await assert_nothing_processed(db, fake_rasa, twilio)


async def test_a_signature_for_another_url_is_refused(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    form = phone.form("hello")
    # The address uvicorn sees is not the public one Twilio signs.
    urls = (gateway.url + PATH, PUBLIC_BASE_URL + "/webhooks/twilio/other", "https://evil.example" + PATH)
    for url in urls:
        response = await deliver(gateway, phone, "", form=form, signature=phone.sign(form, url=url))
        assert response.status_code == 403, url
    await assert_nothing_processed(db, fake_rasa, twilio)


async def test_a_form_changed_after_signing_is_refused(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    form = phone.form("hello")
    signature = phone.sign(form)
    for field, value in (("Body", "STOP"), ("From", KNOWN)):
        tampered = {**form, field: value}
        response = await deliver(gateway, phone, "", form=tampered, signature=signature)
        assert response.status_code == 403, field
    await assert_nothing_processed(db, fake_rasa, twilio)


async def test_a_garbage_signature_is_refused(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    response = await deliver(gateway, Phone(STRANGER), "hello", signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    await assert_nothing_processed(db, fake_rasa, twilio)


async def test_the_webhook_does_not_exist_when_sms_is_not_configured(
    start_gateway: Callable[..., Any], fake_rasa: FakeRasa
) -> None:
    gateway = await start_gateway()
    response = await deliver(gateway, Phone(STRANGER), "hello")
    assert response.status_code == 404
    assert fake_rasa.calls == []


async def test_a_signed_body_that_is_not_a_form_is_refused_and_nothing_is_processed(
    gateway: Gateway, fake_rasa: FakeRasa, twilio: FakeTwilioApi, db: sessionmaker[Session]
) -> None:
    phone = Phone(STRANGER)
    form = phone.form("hello")
    headers = {"X-Twilio-Signature": phone.sign(form), "Content-Type": "text/plain"}
    async with httpx.AsyncClient() as http:
        response = await http.post(gateway.url + PATH, content=urlencode(form), headers=headers)
    assert response.status_code == 415
    await assert_nothing_processed(db, fake_rasa, twilio)
    assert await gateway.metric(
        "gateway_rejected_messages_total", {"channel": "sms", "reason": "bad_request"}
    ) == 1
