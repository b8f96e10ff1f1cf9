"""bot/channels/twilio_http.py: the twilio library's own client, on httpx, pointable at a fake Twilio."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from bot.channels import twilio_http
from bot.channels.twilio_http import TWILIO_API, make_twilio_client
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SHOP_NUMBER, FakeTwilioApi

NUMBER = "+447700900123"


async def test_a_text_goes_to_the_pointed_at_api_with_the_accounts_credentials(twilio: FakeTwilioApi) -> None:
    client = make_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio.url + "/")
    message = await client.messages.create_async(to=NUMBER, from_=SHOP_NUMBER, body="Your parcel left Bristol.")
    (sent,) = twilio.requests
    assert (sent.path_account, sent.auth_ok, sent.to, sent.from_, sent.body) == (
        ACCOUNT_SID, True, NUMBER, SHOP_NUMBER, "Your parcel left Bristol.",
    )  # fmt: skip
    assert message.sid == sent.sid  # the library parsed the fake's answer


async def test_a_refusal_is_the_librarys_own_error(twilio: FakeTwilioApi) -> None:
    twilio.fail_next(status=400, code=21610, message="Attempt to send to unsubscribed recipient")
    client = make_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio.url)
    with pytest.raises(TwilioRestException) as refused:
        await client.messages.create_async(to=NUMBER, from_=SHOP_NUMBER, body="hello")
    assert (refused.value.status, refused.value.code) == (400, 21610)


@pytest.mark.parametrize(
    ("base_url", "url", "expected"),
    [
        ("http://127.0.0.1:9", TWILIO_API + "/2010-04-01/x.json", "http://127.0.0.1:9/2010-04-01/x.json"),
        (TWILIO_API, TWILIO_API + "/2010-04-01/x.json", TWILIO_API + "/2010-04-01/x.json"),
        # Only Twilio's own origin is swapped: another host (or a look-alike) goes where it says.
        ("http://127.0.0.1:9", "https://api.twilio.com.evil.example/x", "https://api.twilio.com.evil.example/x"),
    ],
)
async def test_only_twilios_origin_is_swapped(
    monkeypatch: pytest.MonkeyPatch, base_url: str, url: str, expected: str
) -> None:
    seen: list[tuple[str, float | None]] = []
    real_client = httpx.AsyncClient

    def recording(*, timeout: float | None) -> httpx.AsyncClient:
        def answer(request: httpx.Request) -> httpx.Response:
            seen.append((str(request.url), timeout))
            return httpx.Response(200, text="{}")

        return real_client(transport=httpx.MockTransport(answer), timeout=timeout)

    monkeypatch.setattr(twilio_http.httpx, "AsyncClient", recording)
    http = twilio_http._HttpxTwilioClient(base_url, timeout=3.0)
    response: Any = await http.request("GET", url)
    assert response.status_code == 200
    assert seen == [(expected, 3.0)]
