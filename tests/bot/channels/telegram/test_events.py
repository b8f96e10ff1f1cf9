"""bot/channels/telegram/events.py: the updates the channel answers itself - /start, deep links,
shared contacts, stickers, edits - recorded in the transcript and claimed once in the database,
never reaching the assistant (end to end inside the gateway, as in test_channel.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels import telegram
from crm.models import AuditEntry, ChannelIdentity, Customer, Sender
from tests.bot.telegram_support import (
    LINK_SECRET,
    conversation_of,
    link_for,
    post,
    settle,
    telegram_identity,
    with_buttons,
)
from tests.fakes.gateway import Gateway
from tests.fakes.rasa import FakeRasa
from tests.fakes.rigs import messages_of
from tests.fakes.telegram import FakeTelegram, TelegramUser

pytestmark = pytest.mark.asyncio


# -- things that are not text ----------------------------------------------------------------


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


# -- verification: the contact button --------------------------------------------------------


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


# -- verification: deep links from the website -----------------------------------------------


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


# -- one door: events in the transcript, the database claim for every kind of update ---------


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
