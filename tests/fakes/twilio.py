"""A local stand-in for Twilio: its REST API for the real twilio client, and a phone
that sends signed webhooks the way Twilio does.

`FakeTwilioApi` serves `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
on 127.0.0.1 (a free port, in a thread of its own, so the gateway may be in
this process or another one), checks HTTP basic auth like Twilio, answers
with a message resource, and records every attempt: path account, auth user,
From, To, Body. Tests can make the next sends fail (Twilio's error JSON) or
mark a number as unsubscribed (error 21610, as Twilio does after STOP).

`Phone` is a customer's handset behind Twilio: it builds the form Twilio
posts for an inbound text and signs it with the real `RequestValidator`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
SHOP_NUMBER = "+447700900999"
PUBLIC_BASE_URL = "https://shop.example"
WEBHOOK_URL = PUBLIC_BASE_URL + "/webhooks/twilio/sms"
_PATH_PREFIX = "/2010-04-01/Accounts/"


@dataclass(frozen=True)
class SentSms:
    """One Messages.json POST, accepted or not."""

    path_account: str
    auth_user: str | None
    auth_ok: bool
    from_: str
    to: str
    body: str
    status: int  # what the fake answered
    sid: str | None
    at: float


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


@dataclass
class FakeTwilioApi:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    delay: float = 0.0
    requests: list[SentSms] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    _failures: list[_Failure] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    url: str = ""

    # -- what the test controls and reads ----------------------------------------------

    def fail_next(self, *, status: int, code: int, message: str = "failed", times: int = 1) -> None:
        with self._cond:
            self._failures.append(_Failure(status, code, message, times))

    @property
    def sent(self) -> list[SentSms]:
        """Texts Twilio accepted (HTTP 201)."""
        with self._cond:
            return [r for r in self.requests if r.status == 201]

    def sent_to(self, number: str) -> list[SentSms]:
        return [r for r in self.sent if r.to == number]

    def bodies_to(self, number: str) -> list[str]:
        return [r.body for r in self.sent_to(number)]

    def wait_for(
        self, predicate: Callable[[list[SentSms]], bool], timeout: float = 10.0
    ) -> list[SentSms]:
        """Block until `predicate(accepted texts)` holds; the texts then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                sent = [r for r in self.requests if r.status == 201]
                if predicate(sent):
                    return sent
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake Twilio: condition not met; accepted so far: {sent}")
                self._cond.wait(left)

    def wait_for_texts(self, number: str, count: int, timeout: float = 10.0) -> list[str]:
        """The first `count` bodies texted to `number`, once there are that many (blocking:
        for a gateway in another process or thread)."""
        sent = self.wait_for(lambda s: len([r for r in s if r.to == number]) >= count, timeout)
        return [r.body for r in sent if r.to == number][:count]

    async def texts(self, number: str, count: int, timeout: float = 10.0) -> list[str]:
        """`wait_for_texts` for a gateway in the test's own event loop."""
        deadline = time.monotonic() + timeout
        while len(bodies := self.bodies_to(number)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake Twilio: {len(bodies)} of {count} texts to the number: {bodies}")
            await asyncio.sleep(0.02)
        return bodies[:count]

    def gateway_env(self) -> dict[str, str]:
        """The settings that point a gateway (another process) at this fake, as environment variables."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": SHOP_NUMBER,
            "TWILIO_API_BASE_URL": self.url,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        }

    # -- serving -----------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[FakeTwilioApi]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                status, payload = fake._handle(self.path, self.headers.get("Authorization"), raw)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)

    def _handle(self, path: str, authorization: str | None, raw: str) -> tuple[int, dict[str, Any]]:
        if self.delay:
            time.sleep(self.delay)
        form = dict(parse_qsl(raw, keep_blank_values=True))
        user, password = _basic_auth(authorization)
        auth_ok = user == self.account_sid and password == self.auth_token
        path_account = ""
        if path.startswith(_PATH_PREFIX) and path.endswith("/Messages.json"):
            path_account = path[len(_PATH_PREFIX) : -len("/Messages.json")]
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        status, payload, sid = self._answer(path_account, auth_ok, to, from_, body, path)
        with self._cond:
            self.requests.append(
                SentSms(path_account, user, auth_ok, from_, to, body, status, sid, time.monotonic())
            )
            self._cond.notify_all()
        return status, payload

    def _answer(
        self, path_account: str, auth_ok: bool, to: str, from_: str, body: str, path: str
    ) -> tuple[int, dict[str, Any], str | None]:
        if not path_account:
            return 404, _error(404, 20404, "The requested resource was not found"), None
        if not auth_ok or path_account != self.account_sid:
            return 401, _error(401, 20003, "Authenticate"), None
        with self._cond:
            failure = self._failures[0] if self._failures else None
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
        if failure is not None:
            return failure.status, _error(failure.status, failure.code, failure.message), None
        if not to or not from_:
            return 400, _error(400, 21604, "A 'To' and a 'From' phone number are required"), None
        if not body:
            return 400, _error(400, 21602, "Message body is required"), None
        if len(body) > 1600:
            too_long = "The concatenated message body exceeds the 1600 character limit"
            return 400, _error(400, 21617, too_long), None
        if to in self.unsubscribed:
            return 400, _error(400, 21610, "Attempt to send to unsubscribed recipient"), None
        sid = f"SM{next(self._ids):032x}"
        now = formatdate(usegmt=True)
        return (
            201,
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": to,
                "from": from_,
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "num_media": "0",
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "price": None,
                "error_code": None,
                "error_message": None,
                "uri": f"{path[: -len('.json')]}/{sid}.json",
            },
            sid,
        )


def _basic_auth(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.startswith("Basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None, None
    return user, password


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


# -- the customer's side ---------------------------------------------------------------


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


@dataclass
class Phone:
    """A customer's handset texting the shop's number through Twilio."""

    number: str
    shop_number: str = SHOP_NUMBER
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    webhook_url: str = WEBHOOK_URL

    def form(self, body: str, *, sid: str | None = None, **extra: str) -> dict[str, str]:
        """The fields Twilio posts for one inbound SMS."""
        sid = sid or message_sid()
        form = {
            "ToCountry": "GB",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "GB",
            "To": self.shop_number,
            "MessagingServiceSid": "",
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": self.number,
            "ApiVersion": "2010-04-01",
        }
        form.update(extra)
        return form

    def sign(self, form: dict[str, str], *, url: str | None = None, token: str | None = None) -> str:
        return RequestValidator(token or self.auth_token).compute_signature(url or self.webhook_url, form)
