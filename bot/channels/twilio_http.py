"""Twilio's REST client for the SMS channel, on httpx and pointable at a fake Twilio in tests."""

from __future__ import annotations

import logging

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

logger = logging.getLogger("bot.channels.sms")

TWILIO_API = "https://api.twilio.com"
SEND_TIMEOUT_SECONDS = 15.0


class _HttpxTwilioClient(AsyncHttpClient):
    """The twilio library's async transport, on httpx, sending to `base_url`.

    A custom http client is the library's documented extension point (its REST
    domains have no base-URL setting): paths, auth and parsing stay the
    library's, only the origin is swapped when a test points it elsewhere.
    httpx rather than the library's aiohttp client, which leaks its session
    when a request fails (and uses an aiohttp API that is going away); one
    short-lived connection per request, so nothing needs closing after the
    conversation service has drained at shutdown (texts are few enough to
    afford it).
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(logger, is_async=True, timeout=timeout)
        self._base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self._base_url != TWILIO_API and url.startswith(TWILIO_API + "/"):
            url = self._base_url + url[len(TWILIO_API) :]
        # The library logs URLs (with the account SID) and headers at INFO; `send` logs what matters.
        logger.debug("Twilio API request: %s", method)
        async with httpx.AsyncClient(timeout=timeout or self.timeout) as http:
            response = await http.request(
                method,
                url,
                params=params,  # type: ignore[arg-type]
                data=data,
                headers=headers,
                auth=auth,
                follow_redirects=allow_redirects,
            )
        return TwilioResponse(response.status_code, response.text, response.headers)


def make_twilio_client(
    *,
    account_sid: str,
    auth_token: str,
    api_base_url: str = TWILIO_API,
    timeout: float = SEND_TIMEOUT_SECONDS,
) -> Client:
    return Client(account_sid, auth_token, http_client=_HttpxTwilioClient(api_base_url, timeout))
