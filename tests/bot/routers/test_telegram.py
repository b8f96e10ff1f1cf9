"""The Telegram channel end to end inside the gateway: the real python-telegram-bot
client talks to a local fake Bot API, Telegram's webhook calls are real HTTP
requests to a real uvicorn, Rasa is the stand-in from conftest."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import replies
from bot.app import create_app
from bot.channels import telegram
from bot.identity import sign_customer_id, sign_customer_identity
from crm.models import AuditEntry, ChannelIdentity, Conversation, Customer, Sender
from crm.services.verification_limits import client_fingerprint
from tests.fakes.gateway import IDENTITY_SECRET, Gateway, gateway_settings
from tests.fakes.rasa import FakeRasa, RasaCall, echo
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import TOKEN, FakeTelegram, TelegramUser, serve

pytestmark = pytest.mark.asyncio

WEBHOOK_SECRET = "tg-webhook-secret_0123456789"
LINK_SECRET = "tg-link-secret-0123456789abcdef"
PUBLIC_WEBHOOK = "https://shop.example/webhooks/telegram"


@pytest_asyncio.fixture
async def fake_tg() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram()
    async with serve(fake) as url:
        yield fake, url


@pytest.fixture
def start_tg_gateway(
    start_gateway: Callable[..., Any], fake_tg: tuple[FakeTelegram, str]
) -> Callable[..., Any]:
    async def start(**overrides: Any) -> Gateway:
        values = {
            "telegram_bot_token": TOKEN,
            "telegram_api_base_url": fake_tg[1],
            "telegram_webhook_secret": WEBHOOK_SECRET,
            "telegram_webhook_url": PUBLIC_WEBHOOK,
            "telegram_link_secret": LINK_SECRET,
        }
        values.update(overrides)
        return await start_gateway(**values)

    return start


@pytest_asyncio.fixture
async def tg(start_tg_gateway: Callable[..., Any]) -> Gateway:
    return await start_tg_gateway()


@pytest.fixture
def fake(fake_tg: tuple[FakeTelegram, str]) -> FakeTelegram:
    return fake_tg[0]


@pytest.fixture
def ada() -> TelegramUser:
    return TelegramUser(user_id=555_000_111, first_name="Ada")


async def post(
    gateway: Gateway, update: Any, *, secret: str | None = WEBHOOK_SECRET, raw: bytes | None = None
) -> httpx.Response:
    headers = {} if secret is None else {telegram.SECRET_HEADER: secret}
    async with httpx.AsyncClient() as http:
        if raw is not None:
            return await http.post(gateway.url + "/webhooks/telegram", content=raw, headers=headers)
        return await http.post(gateway.url + "/webhooks/telegram", json=update, headers=headers)


def conversation_of(db: sessionmaker[Session], chat_id: int) -> Conversation | None:
    with db() as session:
        return session.scalars(
            select(Conversation)
            .where(Conversation.channel == "telegram", Conversation.address == str(chat_id))
            .order_by(Conversation.created_at.desc())
        ).first()


def telegram_identity(db: sessionmaker[Session], user_id: int) -> ChannelIdentity | None:
    with db() as session:
        return session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == "telegram", ChannelIdentity.external_user_id == str(user_id)
            )
        ).first()


async def settle(fake_rasa: FakeRasa, fake: FakeTelegram, *, seconds: float = 0.3) -> None:
    """Wait until nothing new happens for a moment (for asserting that nothing happens)."""
    before = (len(fake_rasa.calls), fake.count())
    while True:
        await asyncio.sleep(seconds)
        now = (len(fake_rasa.calls), fake.count())
        if now == before:
            return
        before = now


# -- start-up and the secret-token header ---------------------------------------------


async def test_start_up_reads_the_bot_and_registers_the_webhook_with_its_secret(
    tg: Gateway, fake: FakeTelegram
) -> None:
    assert fake.of("getMe")
    (registration,) = fake.of("setWebhook")
    assert registration["url"] == PUBLIC_WEBHOOK
    assert registration["secret_token"] == WEBHOOK_SECRET
    assert set(registration["allowed_updates"]) == {"message", "edited_message", "callback_query"}


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x", WEBHOOK_SECRET[:-1]])
async def test_a_webhook_without_the_right_secret_is_refused_and_nothing_is_processed(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    secret: str | None,
) -> None:
    calls_before = fake.count()
    response = await post(tg, ada.text("hello"), secret=secret)
    assert response.status_code == 403
    await settle(fake_rasa, fake)
    assert fake_rasa.calls == []
    assert fake.count() == calls_before
    assert conversation_of(db, ada.chat_id) is None
    assert (
        await tg.metric("gateway_rejected_messages_total", {"channel": "telegram", "reason": "bad_secret"})
        >= 1
    )


async def test_without_a_configured_secret_every_webhook_is_refused(
    start_tg_gateway: Callable[..., Any], fake_rasa: FakeRasa, ada: TelegramUser, fake: FakeTelegram
) -> None:
    gateway = await start_tg_gateway(telegram_webhook_secret="")
    for secret in (None, "", "anything"):
        assert (await post(gateway, ada.text("hello"), secret=secret)).status_code == 403
    assert fake.of("setWebhook") == []  # never registered without a secret to check
    assert fake_rasa.calls == []


async def test_a_body_that_is_not_an_update_is_a_400(tg: Gateway, fake_rasa: FakeRasa) -> None:
    assert (await post(tg, None, raw=b"not json")).status_code == 400
    assert (await post(tg, [1, 2])).status_code == 400
    assert (await post(tg, {"message": {"text": "no update id"}})).status_code == 400
    assert fake_rasa.calls == []


async def test_with_no_bot_token_telegram_is_off(
    start_gateway: Callable[..., Any], fake: FakeTelegram, ada: TelegramUser
) -> None:
    gateway = await start_gateway()
    assert (await post(gateway, ada.text("hello"))).status_code == 404
    assert fake.count() == 0


async def test_a_token_telegram_refuses_leaves_the_rest_of_the_gateway_running(
    start_tg_gateway: Callable[..., Any], caplog: pytest.LogCaptureFixture, ada: TelegramUser
) -> None:
    bad_token = "999:not-the-token"
    gateway = await start_tg_gateway(telegram_bot_token=bad_token)
    assert (await post(gateway, ada.text("hello"))).status_code == 404
    async with httpx.AsyncClient() as http:
        assert (await http.get(gateway.url + "/metrics")).status_code == 200
    assert any("TELEGRAM_BOT_TOKEN" in r.getMessage() for r in caplog.records)
    assert not any(bad_token in r.getMessage() for r in caplog.records)


# -- messages and replies ---------------------------------------------------------------


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


async def test_the_webhook_answers_once_the_message_is_stored_not_after_the_turn(
    tg: Gateway, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser, fake: FakeTelegram
) -> None:
    fake_rasa.delay = 1.5
    started = asyncio.get_running_loop().time()
    assert (await post(tg, ada.text("slow one"))).status_code == 200
    assert asyncio.get_running_loop().time() - started < 1.0
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.text for m in messages_of(db, conversation.id)] == ["slow one"]
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: slow one", timeout=5)


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


# -- buttons ----------------------------------------------------------------------------


def with_buttons(call: RasaCall) -> list[dict[str, Any]]:
    if call.message.startswith("/"):
        return [{"recipient_id": call.sender, "text": f"you chose {call.message}"}]
    return [
        {
            "recipient_id": call.sender,
            "text": "How would you rate us?",
            "buttons": [
                {"title": "1 ⭐", "payload": '/feedback_rating{"rating": 1}'},
                {"title": "5 ⭐", "payload": '/feedback_rating{"rating": 5, "comment": "' + "x" * 80 + '"}'},
            ],
        }
    ]


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


# -- things that are not text -------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda u: u.sticker(), telegram.NON_TEXT),
        (lambda u: u.photo(caption="it arrived broken"), telegram.NON_TEXT),
        (lambda u: u.voice(), telegram.NON_TEXT),
        (lambda u: u.location(), telegram.NON_TEXT),
        (lambda u: u.edited("actually, order 1044"), telegram.EDITED),
        (lambda u: u.in_group("/start"), telegram.GROUP_CHAT),
    ],
)
async def test_non_text_updates_get_a_polite_answer_never_an_error(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    build: Callable[[TelegramUser], dict[str, Any]],
    expected: str,
) -> None:
    update = build(ada)
    assert (await post(tg, update)).status_code == 200
    chat_id = (update.get("message") or update.get("edited_message"))["chat"]["id"]
    await fake.wait_for("sendMessage", lambda p: p["text"] == expected and int(p["chat_id"]) == chat_id)
    # Delivered again: not answered twice.
    assert (await post(tg, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert fake.sent_texts(chat_id) == [expected]
    assert fake_rasa.calls == []


async def test_plain_talk_in_a_group_is_left_alone(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    update = ada.in_group("thanks, I'll take this one", group_id=-100777)
    assert (await post(tg, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert fake.of("sendMessage") == [] and fake_rasa.calls == []
    assert conversation_of(db, -100777) is None


async def test_the_webhook_is_registered_at_the_public_address_by_default(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram
) -> None:
    await start_tg_gateway(telegram_webhook_url="", public_base_url="https://shop.example")
    (registration,) = fake.of("setWebhook")
    assert registration["url"] == "https://shop.example/webhooks/telegram"


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


# -- verification: the contact button -------------------------------------------------------


async def test_start_offers_the_share_phone_button(
    tg: Gateway, fake: FakeTelegram, ada: TelegramUser
) -> None:
    await post(tg, ada.text("/start"))
    welcome = await fake.wait_for("sendMessage")
    assert telegram.WELCOME_VERIFY in welcome["text"]
    (row,) = welcome["reply_markup"]["keyboard"]
    assert row[0]["request_contact"] is True


async def test_sharing_ones_own_number_verifies_and_links_the_account(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    await post(tg, ada.text("hi"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: hi")
    assert fake_rasa.calls[-1].metadata["customer_id"] is None
    # Telegram sends the number without its "+".
    assert (await post(tg, ada.own_contact("447700900123"))).status_code == 200
    confirmation = await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.VERIFIED)
    assert confirmation["reply_markup"] == {"remove_keyboard": True}
    identity = telegram_identity(db, ada.user_id)
    assert identity is not None and identity.customer_id == customer.id
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None and conversation.customer_id == customer.id
    await post(tg, ada.text("where is my order?"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: where is my order?")
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"
    assert fake_rasa.calls[-1].sender == conversation.id  # the same conversation, now verified
    with db() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "identity.link" in actions


async def test_a_linked_telegram_account_is_verified_at_once_in_a_new_chat(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], customer: Customer
) -> None:
    with db() as session:
        session.add(
            ChannelIdentity(customer_id=customer.id, channel="telegram", external_user_id="555000222")
        )
        session.commit()
    returning = TelegramUser(user_id=555_000_222)
    await post(tg, returning.text("hello again"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: hello again")
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"
    await post(tg, returning.text("/start"))
    assert await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.WELCOME_BACK)


async def test_someone_elses_contact_is_refused_and_proves_nothing(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    for update in (
        ada.contact("+447700900123", user_id=777_000_000),  # a friend's contact card
        ada.contact("+447700900123"),  # a contact typed in by hand: no user id at all
    ):
        assert (await post(tg, update)).status_code == 200
        await fake.wait_for(
            "sendMessage", lambda p: p["text"] == telegram.NOT_OWN_CONTACT, after=fake.count() - 1
        )
    assert telegram_identity(db, ada.user_id) is None
    await post(tg, ada.text("my orders"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: my orders")
    assert fake_rasa.calls[-1].metadata["customer_id"] is None


async def test_a_number_not_in_the_crm_is_told_so(
    tg: Gateway, fake: FakeTelegram, db: sessionmaker[Session], ada: TelegramUser, customer: Customer
) -> None:
    await post(tg, ada.own_contact("447700900999"))
    answer = await fake.wait_for("sendMessage")
    assert answer["text"] == telegram.NO_MATCH
    assert answer["reply_markup"] == {"remove_keyboard": True}
    assert telegram_identity(db, ada.user_id) is None


async def test_an_account_linked_to_someone_else_is_not_moved(
    tg: Gateway, fake: FakeTelegram, db: sessionmaker[Session], ada: TelegramUser, customer: Customer
) -> None:
    with db() as session:
        other = Customer(external_id="C002", first_name="Bea", phone="+447700900555")
        session.add(other)
        session.flush()
        session.add(
            ChannelIdentity(customer_id=other.id, channel="telegram", external_user_id=str(ada.user_id))
        )
        session.commit()
    await post(tg, ada.own_contact("447700900123"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINKED_ELSEWHERE)
    identity = telegram_identity(db, ada.user_id)
    assert identity is not None and identity.customer_id != customer.id


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


# -- verification: deep links from the website ---------------------------------------------


async def link_for(
    gateway: Gateway, customer_id: str, signature: str | None = None, *, expires: int | None = None
) -> httpx.Response:
    expires = expires if expires is not None else int(time.time()) + 600
    if signature is None:
        signature = sign_customer_identity(customer_id, expires, IDENTITY_SECRET)
    async with httpx.AsyncClient() as http:
        return await http.get(
            gateway.url + "/telegram/link",
            params={"customer_id": customer_id, "expires": str(expires), "signature": signature},
        )


async def test_a_deep_link_from_the_website_links_the_telegram_account(
    tg: Gateway,
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    response = await link_for(tg, "C001")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    url = urlparse(body["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "t.me", f"/{fake.username}")
    (token,) = parse_qs(url.query)["start"]
    assert len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)
    assert "C001" not in token
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(timezone.utc) <= timedelta(minutes=10)
    # Tapping the link opens the chat with "/start <token>".
    assert (await post(tg, ada.text(f"/start {token}"))).status_code == 200
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINKED)
    identity = telegram_identity(db, ada.user_id)
    assert identity is not None and identity.customer_id == customer.id
    await post(tg, ada.text("where is my parcel"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: where is my parcel")
    assert fake_rasa.calls[-1].metadata["customer_id"] == "C001"


async def test_an_expired_deep_link_links_nothing(
    tg: Gateway, fake: FakeTelegram, db: sessionmaker[Session], ada: TelegramUser, customer: Customer
) -> None:
    token = telegram.link_token(
        "C001", secret=LINK_SECRET, expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)
    )
    await post(tg, ada.text(f"/start {token}"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINK_EXPIRED)
    assert telegram_identity(db, ada.user_id) is None


@pytest.mark.parametrize(
    "forge",
    [
        # Signed with another key.
        lambda: telegram.link_token(
            "C001",
            secret="not-the-server-secret",
            expires_at=datetime.now(timezone.utc) + timedelta(minutes=5),
        ),
        # A valid token for C002 with C001 swapped in at the end.
        lambda: _swap_tail(
            telegram.link_token(
                "C002", secret=LINK_SECRET, expires_at=datetime.now(timezone.utc) + timedelta(minutes=5)
            )
        ),
        lambda: "C001",
        lambda: "x" * 64,
    ],
)
async def test_a_forged_deep_link_links_nothing(
    tg: Gateway,
    fake: FakeTelegram,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
    forge: Callable[[], str],
) -> None:
    await post(tg, ada.text(f"/start {forge()}"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINK_INVALID)
    assert telegram_identity(db, ada.user_id) is None


def _swap_tail(token: str) -> str:
    import base64

    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[-1:] = b"1"
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_the_link_endpoint_needs_the_shops_signature_and_a_real_customer(
    tg: Gateway, customer: Customer
) -> None:
    assert (await link_for(tg, "C001", signature="0" * 64)).status_code == 403
    assert (await link_for(tg, "C001", signature="")).status_code == 403
    assert (await link_for(tg, "C404")).status_code == 404
    assert (await link_for(tg, "C001")).status_code == 200


async def test_without_a_link_secret_deep_links_are_off(
    start_tg_gateway: Callable[..., Any],
    fake: FakeTelegram,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
) -> None:
    gateway = await start_tg_gateway(telegram_link_secret="")
    assert (await link_for(gateway, "C001")).status_code == 503
    forged = telegram.link_token(
        "C001", secret="guess", expires_at=datetime.now(timezone.utc) + timedelta(minutes=5)
    )
    await post(gateway, ada.text(f"/start {forged}"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINK_INVALID)
    assert telegram_identity(db, ada.user_id) is None


# -- polling mode -----------------------------------------------------------------------------


async def test_polling_mode_takes_updates_from_get_updates_and_stops_cleanly(
    gateway_db_url: str,
    fake_tg: tuple[FakeTelegram, str],
    fake_rasa: FakeRasa,
    ada: TelegramUser,
) -> None:
    fake, url = fake_tg
    settings = gateway_settings(
        gateway_db_url, telegram_bot_token=TOKEN, telegram_api_base_url=url, telegram_mode="polling"
    )
    app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
    async with app.router.lifespan_context(app) as state:
        assert state["telegram"].polling
        await fake.wait_for("deleteWebhook")  # polling and a webhook exclude each other
        await fake.wait_for("getUpdates")
        first = ada.text("polled hello")
        fake.push_update(first)
        fake.push_update(first)  # delivered twice
        fake.push_update(ada.sticker())
        await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: polled hello")
        await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.NON_TEXT)
        await settle(fake_rasa, fake, seconds=0.5)
        assert [c.message for c in fake_rasa.calls] == ["polled hello"]
        # The sticker's refusal needs no turn, so it may overtake the echo: count, not order.
        assert sorted(fake.sent_texts(ada.chat_id)) == sorted(["echo: polled hello", telegram.NON_TEXT])
        # What was taken is confirmed: the next poll asks past it.
        await fake.wait_for("getUpdates", after=fake.count())
        assert fake.pending_updates() == []
        # A long poll is waiting right now; shutdown must not wait it out.
        closing = asyncio.get_running_loop().time()
    assert asyncio.get_running_loop().time() - closing < 1.5
    polls = len(fake.of("getUpdates"))
    await asyncio.sleep(0.5)
    assert len(fake.of("getUpdates")) == polls  # stopped for good


async def test_in_polling_mode_the_webhook_is_closed(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram, ada: TelegramUser
) -> None:
    gateway = await start_tg_gateway(telegram_mode="polling")
    await fake.wait_for("getUpdates")
    assert (await post(gateway, ada.text("via webhook"))).status_code == 404
    assert fake.of("setWebhook") == []


async def test_updates_polled_before_shutdown_are_still_stored(
    gateway_db_url: str,
    fake_tg: tuple[FakeTelegram, str],
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
) -> None:
    fake, url = fake_tg
    fake_rasa.delay = 0.5
    settings = gateway_settings(
        gateway_db_url, telegram_bot_token=TOKEN, telegram_api_base_url=url, telegram_mode="polling"
    )
    app = create_app(settings, http_transport=httpx.MockTransport(fake_rasa.handler))
    async with app.router.lifespan_context(app):
        await fake.wait_for("getUpdates")
        fake.push_update(ada.text("last words"))
        await fake.wait_for("getUpdates", lambda p: int(p.get("offset") or 0) > 0)
    # Stored and answered before the gateway let go of Telegram.
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    assert [m.sender for m in messages_of(db, conversation.id)] == [Sender.customer, Sender.bot]
    assert "echo: last words" in fake.sent_texts(ada.chat_id)


# -- credentials expire; links are single-use and announced (issue 7, item 8) ------------------


async def test_a_deep_link_links_once_and_a_second_tap_links_nothing(
    tg: Gateway, fake: FakeTelegram, db: sessionmaker[Session], ada: TelegramUser, customer: Customer
) -> None:
    (token,) = parse_qs(urlparse((await link_for(tg, "C001")).json()["url"]).query)["start"]
    await post(tg, ada.text(f"/start {token}"))
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINKED)
    mallory = TelegramUser(user_id=666_000_222, first_name="Mallory")
    await post(tg, mallory.text(f"/start {token}"))  # the same link, forwarded
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.LINK_USED)
    assert telegram_identity(db, mallory.user_id) is None
    assert telegram_identity(db, ada.user_id) is not None


async def test_the_link_endpoint_applies_the_widgets_expiry_rules(
    tg: Gateway, customer: Customer, start_tg_gateway: Callable[..., Any]
) -> None:
    now = int(time.time())
    expired = await link_for(tg, "C001", expires=now - 5)
    assert expired.status_code == 403 and "expired" in expired.json()["error"]
    too_long = await link_for(tg, "C001", expires=now + 40 * 86_400)
    assert too_long.status_code == 403 and "WIDGET_IDENTITY_MAX_TTL_SECONDS" in too_long.json()["error"]
    legacy = sign_customer_id("C001", IDENTITY_SECRET)
    async with httpx.AsyncClient() as http:
        old_form = await http.get(tg.url + "/telegram/link", params={"customer_id": "C001", "signature": legacy})
        assert old_form.status_code == 403 and "expiry" in old_form.json()["error"]
        # Only a shop that opts in keeps the old form working.
        opted_in = await start_tg_gateway(widget_identity_allow_unexpiring=True)
        assert (
            await http.get(opted_in.url + "/telegram/link", params={"customer_id": "C001", "signature": legacy})
        ).status_code == 200


async def test_a_newly_linked_account_is_announced_on_the_customers_existing_channel(
    tg: Gateway, fake: FakeTelegram, db: sessionmaker[Session], ada: TelegramUser, customer: Customer
) -> None:
    async with tg.connect(customer_id="C001", sign=True) as tab:
        assert (await tab.recv())["type"] == "session"
        await tab.recv()  # history
        (token,) = parse_qs(urlparse((await link_for(tg, "C001")).json()["url"]).query)["start"]
        await post(tg, ada.text(f"/start {token}"))
        notice, _ = await tab.recv_until(lambda f: f["type"] == "message" and f["from"] == "system")
    assert "new Telegram account was just linked" in notice["text"]
    assert "which accounts are linked?" in notice["text"]


# -- one door: events in the transcript, the database claim for every kind of update --------


def _customer_messages(db: sessionmaker[Session], chat_id: int) -> list[str]:
    conversation = conversation_of(db, chat_id)
    if conversation is None:
        return []
    return [m.text for m in messages_of(db, conversation.id) if m.sender == Sender.customer]


async def test_start_contacts_and_stickers_are_in_the_transcript_with_their_answers(
    tg: Gateway, fake: FakeTelegram, fake_rasa: FakeRasa, db: sessionmaker[Session], ada: TelegramUser
) -> None:
    await post(tg, ada.text("/start"))
    await fake.wait_for("sendMessage", lambda p: telegram.WELCOME_VERIFY in p["text"])
    await post(tg, ada.sticker())
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.NON_TEXT)
    await post(tg, ada.own_contact("447700900999"))  # in no customer's record
    await fake.wait_for("sendMessage", lambda p: p["text"] == telegram.NO_MATCH)
    await settle(fake_rasa, fake)
    conversation = conversation_of(db, ada.chat_id)
    assert conversation is not None
    stored = [(m.sender, m.text, (m.data or {}).get("kind")) for m in messages_of(db, conversation.id)]
    assert [(sender, kind) for sender, _, kind in stored] == [
        (Sender.customer, "telegram_start"),
        (Sender.system, "telegram_start"),
        (Sender.customer, "telegram_not_text"),
        (Sender.system, "telegram_not_text"),
        (Sender.customer, "telegram_contact"),
        (Sender.system, "telegram_reply"),
    ]
    assert stored[1][1].endswith(telegram.WELCOME_VERIFY) and stored[5][1] == telegram.NO_MATCH
    # The transcript says what happened, never the number itself.
    assert all("447700900999" not in text for _, text, _ in stored)
    assert fake_rasa.calls == []


def _update_of_kind(kind: str, ada: TelegramUser, token: str, button: str) -> dict[str, Any]:
    return {
        "text": lambda: ada.text("hello once"),
        "start": lambda: ada.text("/start"),
        "deep_link": lambda: ada.text(f"/start {token}"),
        "contact": lambda: ada.own_contact("447700900123"),
        "sticker": ada.sticker,
        "edited": lambda: ada.edited("order 1044, not 1043"),
        "button": lambda: ada.press(button),
    }[kind]()


@pytest.mark.parametrize("kind", ["text", "start", "deep_link", "contact", "sticker", "edited", "button"])
async def test_every_kind_of_update_delivered_twice_is_taken_once_even_after_a_restart(
    start_tg_gateway: Callable[..., Any],
    fake: FakeTelegram,
    fake_rasa: FakeRasa,
    db: sessionmaker[Session],
    ada: TelegramUser,
    customer: Customer,
    kind: str,
) -> None:
    first = await start_tg_gateway()
    button = ""
    if kind == "button":
        fake_rasa.reply = with_buttons
        await post(first, ada.text("done"))
        question = await fake.wait_for("sendMessage", lambda p: p["text"] == "How would you rate us?")
        button = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await settle(fake_rasa, fake)
    token = telegram.link_token(
        "C001", secret=LINK_SECRET, expires_at=datetime.now(timezone.utc) + timedelta(minutes=5)
    )
    update = _update_of_kind(kind, ada, token, button)

    def seen() -> tuple[int, int, int, list[str]]:
        return (
            len(fake_rasa.calls),
            len(fake.of("sendMessage", ada.chat_id)),
            len(fake.of("answerCallbackQuery")),
            _customer_messages(db, ada.chat_id),
        )

    before = seen()
    assert (await post(first, update)).status_code == 200
    await settle(fake_rasa, fake)
    once = seen()
    assert once != before and len(once[3]) == len(before[3]) + 1
    assert (await post(first, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert seen() == once
    # A restarted gateway (nothing kept in memory) still knows the update: the claim is in the database.
    restarted = await start_tg_gateway()
    assert (await post(restarted, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert seen() == once


async def test_a_command_in_a_group_is_answered_once_even_after_a_restart(
    start_tg_gateway: Callable[..., Any], fake: FakeTelegram, fake_rasa: FakeRasa, ada: TelegramUser
) -> None:
    update = ada.in_group("/start", group_id=-100555)
    for gateway in (await start_tg_gateway(), await start_tg_gateway()):
        for _ in range(2):
            assert (await post(gateway, update)).status_code == 200
    await settle(fake_rasa, fake)
    assert fake.sent_texts(-100555) == [telegram.GROUP_CHAT]
