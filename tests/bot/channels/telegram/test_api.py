"""bot/channels/telegram/api.py: one Bot API call, flood limits waited out, blips retried, never raising."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.telegram import api
from crm.models import Sender
from tests.bot.telegram_support import conversation_of, post, settle
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


class Method:
    """A Bot API method that fails as told, then answers "ok"; records its calls."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits `call` would sleep, taken instead of slept."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(api, "asyncio", SimpleNamespace(sleep=sleep))
    return waits


# -- one call ------------------------------------------------------------------------------


async def test_an_answer_is_returned_with_no_failure(slept: list[float]) -> None:
    method = Method()
    assert await api.call(method, chat_id=1, text="hi") == ("ok", None)
    assert method.calls == [{"chat_id": 1, "text": "hi"}] and slept == []


async def test_a_flood_wait_is_waited_out_for_as_long_as_telegram_asks(slept: list[float]) -> None:
    method = Method(RetryAfter(7))
    assert await api.call(method, chat_id=1) == ("ok", None)
    assert len(method.calls) == 2 and slept == [7.0]


async def test_a_network_blip_is_retried_with_a_growing_pause_and_gives_up_after_three(
    slept: list[float],
) -> None:
    assert await api.call(Method(NetworkError("reset"), TimedOut()), chat_id=1) == ("ok", None)
    assert slept == [0.5, 1.0]
    never = Method(*[NetworkError("down")] * 3)
    assert await api.call(never, chat_id=1) == (None, "unreachable")
    assert len(never.calls) == 3


@pytest.mark.parametrize(
    "refusal",
    [
        lambda: Forbidden("Forbidden: bot was blocked by the user"),
        lambda: BadRequest("Bad Request: chat not found"),
        lambda: InvalidToken(),
        lambda: TelegramError("something else"),
    ],
)
async def test_a_refusal_is_reported_once_never_retried_and_never_raised(
    slept: list[float], refusal: Callable[[], Exception], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bot.channels.telegram")
    method = Method(refusal())
    assert await api.call(method, chat_id=1, text="private words") == (None, "refused")
    assert len(method.calls) == 1 and slept == []
    assert caplog.records and all("private words" not in r.getMessage() for r in caplog.records)


# -- through the gateway ---------------------------------------------------------------------


async def test_a_customer_who_blocked_the_bot_costs_nothing_but_the_delivery(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    assert (await post(tg, ada.text("bye"))).status_code == 200
    await fake.wait_for("sendMessage")
    await settle(fake_rasa, fake)
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.sender for m in messages_of(db, conversation.id)] == [Sender.customer, Sender.bot]
    # The channel still works for the next message.
    await post(tg, ada.text("again"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: again")


async def test_a_flood_wait_is_waited_out_and_the_reply_still_arrives(
    tg: Gateway, fake: FakeTelegram, ada: TelegramUser
) -> None:
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1)
    await post(tg, ada.text("patience"))
    first = await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: patience")
    again = await fake.wait_for(
        "sendMessage", lambda p: p["text"] == "echo: patience" and p is not first, timeout=5
    )
    assert int(again["chat_id"]) == ada.chat_id
    assert len(fake.of("sendMessage", ada.chat_id)) == 2
