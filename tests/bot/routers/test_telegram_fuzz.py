"""Property-based: no update Telegram (or someone who learnt the webhook
secret) can post makes the gateway fail: every answer is below 500, the
gateway keeps working, and nothing is logged at ERROR."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.fakes.gateway import ThreadedGateway, threaded_gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram import TOKEN, FakeTelegram, serve_in_thread

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRET = "Telegram-fuzz-secret_4Hq8Vx2Lm6Zr0Tp"
_ids = itertools.count(1)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ints = st.integers(min_value=-(2**63), max_value=2**63) | st.sampled_from([0, 1, 555_000_111, 2**53 + 1])
user = st.fixed_dictionaries(
    {"id": ints | json_values, "is_bot": st.booleans() | json_values, "first_name": st.text(max_size=20)},
    optional={"language_code": st.sampled_from(["en", "en-GB", "xx", "", "é"]) | json_values},
)
chat = st.fixed_dictionaries({"id": ints | json_values, "type": st.sampled_from(["private", "group", "channel", ""])})
text = st.text(max_size=300) | st.sampled_from(["/start", "/start abc", "/start " + "A" * 64, "/help", "1"])
message = st.fixed_dictionaries(
    {"message_id": ints, "date": ints, "chat": chat},
    optional={
        "from": user,
        "text": text | json_values,
        "contact": st.fixed_dictionaries(
            {"phone_number": st.sampled_from(["+447700900123", "07700900123", "", "x"]) | st.text(max_size=20)},
            optional={"user_id": ints | json_values, "first_name": st.text(max_size=10)},
        ),
        "photo": json_values,
    },
)
callback = st.fixed_dictionaries(
    {"id": st.text(max_size=10), "from": user, "chat_instance": st.text(max_size=5)},
    optional={
        "data": st.sampled_from(["b:1:0", "b:999999999999999999:999", "b:-1:0", "x", ""]) | st.text(max_size=64),
        "message": message,
    },
)
updates = st.one_of(
    st.builds(lambda m: {"message": m}, message),
    st.builds(lambda m: {"edited_message": m}, message),
    st.builds(lambda c: {"callback_query": c}, callback),
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
)


@pytest.fixture
def telegram_gateway(gateway_db_url: str, fake_rasa: FakeRasa) -> Iterator[ThreadedGateway]:
    fake = FakeTelegram()
    with serve_in_thread(fake) as api:
        with threaded_gateway(
            gateway_db_url,
            fake_rasa,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api,
            telegram_webhook_secret=SECRET,
            telegram_webhook_url="https://shop.example" + WEBHOOK_PATH,
            rate_limit_session_per_minute=1e6,
            rate_limit_session_burst=10**6,
        ) as gateway:
            yield gateway


def test_any_update_is_answered_below_500(
    telegram_gateway: ThreadedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    url = telegram_gateway.url + WEBHOOK_PATH
    with httpx.Client(timeout=30) as http:

        examples: list[int] = []

        @FUZZ
        @given(update=updates, update_id=ints | json_values, raw=st.none() | st.binary(max_size=200))
        def post(update: dict[str, Any], update_id: Any, raw: bytes | None) -> None:
            examples.append(1)
            body = raw if raw is not None else json.dumps({"update_id": update_id, **update}).encode()
            headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
            response = http.post(url, content=body, headers=headers)
            assert response.status_code < 500, (response.status_code, response.text)

        post()
        assert len(examples) >= 100  # Hypothesis really ran
        # Still working: a well-formed text is accepted.
        ada = {"id": 42, "is_bot": False, "first_name": "Ada"}
        message = {"message_id": 1, "date": 1, "chat": {"id": 42, "type": "private"}, "from": ada, "text": "hello"}
        good = {"update_id": 10**9 + next(_ids), "message": message}
        assert http.post(url, json=good, headers={SECRET_HEADER: SECRET}).status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
