"""Property-based: no form posted to the Twilio webhook makes the gateway fail.

Signed forms (what Twilio, or someone holding the auth token, could send) with
any body, sender, ids and extra fields, and unsigned forms of any shape, all
get an answer below 500; nothing is logged at ERROR; the channel keeps working.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.gateway import ThreadedGateway, threaded_gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.twilio import FakeTwilioApi, Phone, message_sid

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PATH = "/webhooks/twilio/sms"

numbers = st.sampled_from(["+447700900123", "+15005550006", "07700900123", "", "+", "+0" * 10]) | st.text(max_size=20)
bodies = st.text(max_size=1700) | st.sampled_from(["STOP", "start", "YES", "1", "99", "0", "-1", "HELP", " "])
fields = st.dictionaries(
    st.sampled_from(["NumMedia", "MediaUrl0", "MediaContentType0", "OptOutType", "SmsStatus", "To", "AccountSid"])
    | st.text(max_size=12),
    st.text(max_size=40),
    max_size=4,
)


@pytest.fixture
def sms_gateway(gateway_db_url: str, fake_rasa: FakeRasa) -> Iterator[ThreadedGateway]:
    with FakeTwilioApi().serve() as twilio:
        env = twilio.gateway_env()
        with threaded_gateway(
            gateway_db_url,
            fake_rasa,
            twilio_account_sid=env["TWILIO_ACCOUNT_SID"],
            twilio_auth_token=env["TWILIO_AUTH_TOKEN"],
            twilio_from_number=env["TWILIO_FROM_NUMBER"],
            twilio_api_base_url=env["TWILIO_API_BASE_URL"],
            public_base_url=env["PUBLIC_BASE_URL"],
            rate_limit_session_per_minute=1e6,
            rate_limit_session_burst=10**6,
        ) as gateway:
            yield gateway


def test_any_signed_or_unsigned_form_is_answered_below_500(
    sms_gateway: ThreadedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with httpx.Client(timeout=30) as http:

        examples: list[int] = []

        @FUZZ
        @given(
            number=numbers,
            body=bodies,
            sid=st.builds(message_sid) | st.text(max_size=40),
            extra=fields,
            signed=st.booleans(),
        )
        def post(number: str, body: str, sid: str, extra: dict[str, str], signed: bool) -> None:
            examples.append(1)
            phone = Phone(number)
            form = {**phone.form(body, sid=sid), **extra}
            headers = {"X-Twilio-Signature": phone.sign(form)} if signed else {}
            response = http.post(sms_gateway.url + PATH, data=form, headers=headers)
            assert response.status_code < 500, (response.status_code, response.text)
            if not signed:
                assert response.status_code == 403

        post()
        assert len(examples) >= 100  # Hypothesis really ran
        phone = Phone("+447700900777")
        form = phone.form("hello")
        ok = http.post(sms_gateway.url + PATH, data=form, headers={"X-Twilio-Signature": phone.sign(form)})
        assert ok.status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
