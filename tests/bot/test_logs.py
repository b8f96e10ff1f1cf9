"""Logs: JSON lines with ids, and no customer words, e-mails or phone numbers at INFO."""

from __future__ import annotations

import json
import logging
import time

import pytest

from bot.logs import MAX_FIELD_CHARS, JsonFormatter, conversation_context, request_id_var, scrub
from crm.models import Customer
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.widget import is_bot_message
from tests.timing import ADVERSARIAL, assert_linear

SECRET_WORDS = "my card number is 4111 and I live at 12 Elm Street"
EMAIL = "ada.lovelace@example.com"
PHONE = "+447700900123"


@pytest.mark.asyncio
async def test_a_whole_conversation_leaves_no_personal_data_in_info_logs(
    gateway: Gateway, fake_rasa: FakeRasa, customer: Customer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_rasa.reply = lambda call: [{"text": f"Hello Ada, we have {EMAIL} and {PHONE} on file."}]
    async with gateway.connect(customer_id="C001", sign=True) as tab:
        session = await tab.recv()
        await tab.recv()
        for i, text in enumerate([SECRET_WORDS, f"write to {EMAIL}", f"call {PHONE}"]):
            await tab.say(f"c-{i}", text)
            await tab.recv_until(is_bot_message)
        fake_rasa.mode = "error"
        await tab.say("c-x", SECRET_WORDS + " again")
        await tab.recv_until(is_bot_message)
        await tab.say("c-y", "z" * 3000)
        await tab.recv_until(lambda f: f["type"] == "error")
    token = session["session"]

    info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any(r.name == "bot.channels.widget" for r in info)  # the path was logged at all
    formatter = JsonFormatter()
    for record in info:
        raw = record.getMessage() + json.dumps(vars(record), default=str)
        line = formatter.format(record)
        for needle in ("12 Elm Street", "card number", EMAIL, PHONE, "Hello Ada", "zzzz"):
            assert needle not in raw, (needle, record.name, record.getMessage())
        # The session token is a credential: never in a formatted line.
        assert token not in line


def test_json_lines_carry_the_request_and_conversation_ids() -> None:
    formatter = JsonFormatter()
    logger = logging.getLogger("bot.test")
    token = request_id_var.set("req-123")
    try:
        with conversation_context("conv-9"):
            record = logger.makeRecord(
                "bot.test", logging.INFO, __file__, 1, "turn %s", ("done",), None, extra={"kind": "timeout"}
            )
            line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "turn done"
    assert line["level"] == "INFO"
    assert (line["request_id"], line["conversation_id"], line["kind"]) == ("req-123", "conv-9", "timeout")
    assert "ts" in line and line["logger"] == "bot.test"


def test_the_formatter_scrubs_what_other_libraries_might_log() -> None:
    assert scrub(f"mail {EMAIL} now") == "mail [email] now"
    assert scrub("ring +44 20 7946 0321 please") == "ring [phone] please"
    assert scrub('"WebSocket /ws/chat?session=abc&customer_id=C001" [accepted]') == (
        '"WebSocket /ws/chat?[query]" [accepted]'
    )
    # Ids and timestamps survive.
    assert scrub("conversation 3f2a9c01 at 2026-01-01T10:00:00+00:00") == (
        "conversation 3f2a9c01 at 2026-01-01T10:00:00+00:00"
    )


def test_scrubbing_takes_linear_time_on_adversarial_text() -> None:
    # The old e-mail pattern took ~7 s on a 65,000-character path, on the event loop.
    assert_linear(lambda text: scrub(text, limit=len(text)), ADVERSARIAL)


def test_a_long_field_is_cut_before_scrubbing_and_the_cut_never_leaves_half_an_address() -> None:
    text = "x " * 2040 + "ada.lovelace@example.com trailing words " + "y" * 70_000
    line = scrub(text)
    assert len(line) < MAX_FIELD_CHARS + 40
    assert "ada" not in line and "lovelace" not in line
    assert line.endswith("chars cut]")
    # A cut that falls inside an address drops the whole word, not leaving "ada.lovel".
    for cut in range(4075, 4110):
        assert "lovel" not in scrub(text, limit=cut)
    # An address without a dotted domain still counts (a cut one would not have one).
    assert scrub("write to ada@exam") == "write to [email]"


def test_the_access_line_for_a_huge_path_is_short_and_scrubbed() -> None:
    record = logging.getLogger("bot.access").makeRecord(
        "bot.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", "/" + "a" * 65_000 + "@x.io", 404), None
    )
    started = time.perf_counter()
    line = json.loads(JsonFormatter().format(record))
    assert time.perf_counter() - started < 0.1
    assert len(line["msg"]) < MAX_FIELD_CHARS + 40
