"""bot/channels/telegram/channel.py: texts and button presses in, replies out (split, photos,
inline keyboards, typing), group chats, limits - end to end inside the gateway: the real
python-telegram-bot client talks to a local fake Bot API, Telegram's webhook calls are real
HTTP requests to a real uvicorn, Rasa is the stand-in from conftest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import replies
from bot.channels import telegram
from crm.models import Conversation, Customer, Sender
from crm.services.verification_limits import client_fingerprint
from tests.bot.telegram_support import conversation_of, post, settle, with_buttons
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa, echo
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import TOKEN, FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


# -- messages and replies --------------------------------------------------------------------


async def test_a_text_message_reaches_rasa_and_the_reply_reaches_the_chat(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    response = await post(tg, ada.text("where is my order?"))
    assert response.status_code == 200
    reply = await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: where is my order?")
    assert int(reply["chat_id"]) == ada.chat_id
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None and conversation.customer_id is None
    (call,) = fake_rasa.calls
    assert call.sender == conversation.id  # an opaque id, never the chat id
    assert str(ada.chat_id) not in call.sender
    assert call.metadata == {
        "channel": "telegram", "customer_id": None, "locale": "en",
        "client": client_fingerprint(f"telegram:{conversation.address}"),
    }
    assert str(ada.chat_id) not in str(call.metadata)
    # "typing…" was shown while the assistant worked.
    typing = fake.of("sendChatAction", ada.chat_id)
    assert typing and typing[0]["action"] == "typing"
    senders = [m.sender for m in messages_of(db, conversation.id)]
    assert senders == [Sender.customer, Sender.bot]


async def test_typing_is_renewed_while_a_slow_turn_runs(
    start_tg_gateway: Callable[..., Any],
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    ada: TelegramUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telegram.channel, "_TYPING_EVERY_SECONDS", 0.2)
    gateway = await start_tg_gateway(rasa_timeout_seconds=5)
    fake_rasa.delay = 1.0
    await post(gateway, ada.text("think hard"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: think hard", timeout=5)
    count = len(fake.of("sendChatAction", ada.chat_id))
    assert count >= 3
    await asyncio.sleep(0.5)
    assert len(fake.of("sendChatAction", ada.chat_id)) == count  # stopped with the reply


async def test_a_redelivered_update_is_stored_and_answered_once(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    update = ada.text("hello twice")
    first, second = await asyncio.gather(post(tg, update), post(tg, update))
    assert first.status_code == second.status_code == 200
    assert (await post(tg, update)).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: hello twice")
    await settle(fake_rasa, fake)
    assert len(fake_rasa.calls) == 1
    assert fake.sent_texts(ada.chat_id).count("echo: hello twice") == 1
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.text for m in messages_of(db, conversation.id) if m.sender == Sender.customer] == [
        "hello twice"
    ]
    assert await tg.metric("gateway_duplicates_dropped_total", {"channel": "telegram"}) == 2


async def test_one_chat_keeps_one_conversation_in_order(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    for text in ("one", "two", "three"):
        assert (await post(tg, ada.text(text))).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: three")
    with db() as session:
        conversations = session.scalars(select(Conversation).where(Conversation.channel == "telegram")).all()
    assert len(conversations) == 1
    assert [c.message for c in fake_rasa.calls] == ["one", "two", "three"]
    assert [t for t in fake.sent_texts(ada.chat_id)] == ["echo: one", "echo: two", "echo: three"]


async def test_a_typed_slash_command_is_not_an_intent(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    await post(tg, ada.text("/restart"))
    await fake.wait_for("sendMessage", lambda p: p["text"].startswith("echo:"))
    assert fake_rasa.calls[0].message == "restart"


async def test_a_long_reply_is_split_at_telegrams_limit_without_losing_a_word(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    paragraph = " ".join(f"word{i}." for i in range(300))  # ~2,700 characters
    long_text = "\n\n".join([paragraph] * 4)
    fake_rasa.reply = lambda call: [
        {
            "recipient_id": call.sender,
            "text": long_text,
            "buttons": [{"title": "Thanks", "payload": "/thankyou"}],
        }
    ]
    await post(tg, ada.text("tell me everything"))
    await fake.wait_for("sendMessage", lambda p: "reply_markup" in p, timeout=5)
    sent = fake.of("sendMessage", ada.chat_id)
    assert len(sent) >= 3
    assert all(len(p["text"]) <= 4096 for p in sent)
    assert [p["text"] for p in sent] == [p["text"].strip() for p in sent]
    assert " ".join(p["text"] for p in sent).split() == long_text.split()
    # The buttons go with the last piece, under the end of the message.
    assert [i for i, p in enumerate(sent) if "reply_markup" in p] == [len(sent) - 1]


async def test_an_image_reply_is_sent_as_a_photo(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    fake_rasa.reply = lambda call: [
        {"recipient_id": call.sender, "text": "Here it is", "image": "https://shop.example/p.jpg"}
    ]
    await post(tg, ada.text("show me"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "Here it is")
    (photo,) = fake.of("sendPhoto", ada.chat_id)
    assert photo["photo"] == "https://shop.example/p.jpg"


# -- buttons ---------------------------------------------------------------------------------


async def test_buttons_become_an_inline_keyboard_and_a_tap_sends_the_payload(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    fake_rasa.reply = with_buttons
    await post(tg, ada.text("done"))
    question = await fake.wait_for("sendMessage", lambda p: p["text"] == "How would you rate us?")
    keyboard = question["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["1 ⭐", "5 ⭐"]
    data = [row[0]["callback_data"] for row in keyboard]
    # Payloads can be longer than Telegram's 64 bytes of callback data: the data is a short reference.
    assert all(len(d.encode()) <= 64 for d in data)
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    press = ada.press(data[1])
    assert (await post(tg, press)).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"].startswith("you chose"))
    assert fake_rasa.calls[-1].message.startswith('/feedback_rating{"rating": 5')
    answered = fake.of("answerCallbackQuery")
    assert [a["callback_query_id"] for a in answered] == [press["callback_query"]["id"]]
    assert "text" not in answered[0]
    stored = [m for m in messages_of(db, conversation.id) if m.sender == Sender.customer]
    assert stored[-1].text == "5 ⭐"
    # The same tap delivered again is not sent twice.
    await post(tg, press)
    await settle(fake_rasa, fake)
    assert len(fake_rasa.calls) == 2


async def test_a_stale_button_is_answered_and_not_sent_to_the_assistant(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    fake_rasa.reply = with_buttons
    await post(tg, ada.text("rate"))
    old = await fake.wait_for("sendMessage", lambda p: p["text"] == "How would you rate us?")
    fake_rasa.reply = echo  # the conversation moved on: those buttons are no longer offered
    await post(tg, ada.text("something else"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: something else")
    await settle(fake_rasa, fake)
    stale = old["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    press = ada.press(stale)
    calls = len(fake_rasa.calls)
    assert (await post(tg, press)).status_code == 200
    answer = await fake.wait_for("answerCallbackQuery")
    assert answer["text"] == replies.BAD_PAYLOAD
    await settle(fake_rasa, fake)
    assert len(fake_rasa.calls) == calls


@pytest.mark.parametrize("data", ["b:999999:0", "b:1:7", "/affirm", "b:abc:0", ""])
async def test_forged_callback_data_is_refused_politely(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser, data: str
) -> None:
    fake_rasa.reply = with_buttons
    await post(tg, ada.text("hi"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "How would you rate us?")
    assert (await post(tg, ada.press(data))).status_code == 200
    answer = await fake.wait_for("answerCallbackQuery")
    assert answer["text"] == replies.BAD_PAYLOAD
    await settle(fake_rasa, fake)
    assert len(fake_rasa.calls) == 1


async def test_another_chats_buttons_cannot_be_pressed(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    fake_rasa.reply = with_buttons
    await post(tg, ada.text("hi"))
    question = await fake.wait_for("sendMessage", lambda p: p["text"] == "How would you rate us?")
    data = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    mallory = TelegramUser(user_id=555_000_999, first_name="Mallory")
    await post(tg, mallory.text("hello"))
    await fake.wait_for("sendMessage", lambda p: int(p["chat_id"]) == mallory.chat_id)
    await post(tg, mallory.press(data))
    answer = await fake.wait_for("answerCallbackQuery")
    assert answer["text"] == replies.BAD_PAYLOAD
    await settle(fake_rasa, fake)
    assert all(not c.message.startswith("/") for c in fake_rasa.calls)


# -- groups, limits, privacy -----------------------------------------------------------------


async def test_plain_talk_in_a_group_is_left_alone(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    update = ada.in_group("thanks, I'll take this one", group_id=-100777)
    assert (await post(tg, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert fake.of("sendMessage") == [] and fake_rasa.calls == []
    assert conversation_of(db, -100777) is None


async def test_a_command_in_a_group_is_answered_once_even_after_a_restart(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    update = ada.in_group("/start", group_id=-100555)
    for gateway in (await start_tg_gateway(), await start_tg_gateway()):
        for _ in range(2):
            assert (await post(gateway, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert fake.sent_texts(-100555) == [telegram.GROUP_CHAT]


async def test_a_message_over_the_limit_is_refused_with_the_reason(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    await post(tg, ada.text("x" * 2500))
    refusal = await fake.wait_for("sendMessage")
    assert refusal["text"] == replies.TOO_LONG.format(length=2500, limit=2000)
    await settle(fake_rasa, fake)
    assert fake_rasa.calls == []


async def test_a_flooding_chat_is_slowed_down(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    gateway = await start_tg_gateway(rate_limit_session_burst=2, rate_limit_session_per_minute=1)
    for text in ("a", "b", "c"):
        assert (await post(gateway, ada.text(text))).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"] == replies.RATE_LIMITED)
    await settle(fake_rasa, fake)
    assert [c.message for c in fake_rasa.calls] == ["a", "b"]


async def test_logs_carry_no_text_phone_or_telegram_user_id(
    tg: Gateway, fake: FakeTelegram, ada: TelegramUser, customer: Customer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await post(tg, ada.text("my secret question"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: my secret question")
    await post(tg, ada.own_contact("447700900123"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.VERIFIED)
    await post(tg, ada.contact("447700900123", user_id=1))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.NOT_OWN_CONTACT)
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        rendered = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for secret in ("my secret question", "447700900123", str(ada.user_id), TOKEN):
            assert secret not in rendered, (secret, record.getMessage())
