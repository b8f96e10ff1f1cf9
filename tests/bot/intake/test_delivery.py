"""One delivery contract (bot.intake.delivery): when the platform refuses a staff member's
reply, every channel's `send` raises DeliveryFailed - the widget, SMS through the real twilio
client against the fake Twilio API, Telegram through the real python-telegram-bot client
against the fake Bot API - so the console's "could not deliver" path works on all of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot

from bot.channels import widget
from bot.core.messages import ConversationRef, OutboundMessage
from bot.channels.sms import SmsChannel, make_twilio_client
from bot.channels.telegram import TelegramChannel
from bot.conversations import ConversationService, DeliveryFailed
from bot.identity import IdentityPolicy
from bot.intake.delivery import NotDelivered
from bot.intake.door import Intake
from bot.metrics import Metrics
from bot.rasa import RasaClient
from bot.ratelimit import RateLimiter
from crm.models import ConversationState, Sender
from tests.fakes.rasa import RASA_TOKEN, RASA_URL, FakeRasa
from tests.fakes.telegram import TOKEN, FakeTelegram, serve
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SHOP_NUMBER, WEBHOOK_URL, FakeTwilioApi
from tests.bot.staff_support import create_staff

pytestmark = pytest.mark.asyncio

STAFF_REPLY = OutboundMessage(id="7", sender=Sender.agent, text="Hi, Sam here.")
BOT_REPLY = OutboundMessage(id="8", sender=Sender.bot, text="echo")
CHAT_ID = 555_000_111


def conversation(channel: str, address: str) -> ConversationRef:
    return ConversationRef(
        id="c-1", channel=channel, address=address, customer_external_id=None, locale="en",
        state=ConversationState.assigned,
    )  # fmt: skip


@pytest_asyncio.fixture
async def service(db: sessionmaker[Session], fake_rasa: FakeRasa) -> AsyncIterator[ConversationService]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake_rasa.handler)) as http:
        service = ConversationService(
            sessionmaker=db,
            rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=2),
            metrics=Metrics(),
        )
        yield service
        await service.aclose(timeout=5)


@pytest.fixture
def intake(service: ConversationService, db: sessionmaker[Session]) -> Intake:
    return Intake(service=service, sessionmaker=db)


# -- the widget ------------------------------------------------------------------------------


class _BrokenFanout:
    def subscribe(self, key: str, listener: Callable[[widget.Frame], None]) -> Callable[[], None]:
        return lambda: None

    async def publish(self, key: str, frame: widget.Frame) -> None:
        raise ConnectionError("the shared fan-out is gone")


def _widget(intake: Intake) -> widget.WidgetChannel:
    limiter = RateLimiter(per_minute=60, burst=10)
    return widget.WidgetChannel(
        intake=intake, fanout=_BrokenFanout(), metrics=Metrics(),
        limits=widget.WidgetLimits(max_message_chars=2000, max_frame_bytes=16_384),
        identity=IdentityPolicy(secret="s"), session_idle=timedelta(days=1),
        session_limiter=limiter, ip_limiter=limiter, connect_limiter=limiter,
    )  # fmt: skip


async def test_the_widget_raises_delivery_failed_when_its_fanout_refuses(
    intake: Intake,
) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await _widget(intake).send(conversation("web", "tokenhash"), STAFF_REPLY)
    assert isinstance(failed.value, NotDelivered) and failed.value.reason == "ConnectionError"


# -- SMS ---------------------------------------------------------------------------------------


def _sms(intake: Intake, twilio: FakeTwilioApi) -> SmsChannel:
    return SmsChannel(
        intake=intake, metrics=Metrics(),
        client=make_twilio_client(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio.url),
        from_number=SHOP_NUMBER, auth_token=AUTH_TOKEN, webhook_url=WEBHOOK_URL, send_timeout=2,
    )  # fmt: skip


async def test_sms_raises_delivery_failed_when_twilio_refuses(intake: Intake, twilio: FakeTwilioApi) -> None:
    sms = _sms(intake, twilio)
    twilio.fail_next(status=400, code=21610)
    with pytest.raises(DeliveryFailed) as failed:
        await sms.send(conversation("sms", "+447700900444"), STAFF_REPLY)
    assert isinstance(failed.value, NotDelivered) and failed.value.reason == "refused"
    twilio.fail_next(status=500, code=20500)
    await sms.send(conversation("sms", "+447700900444"), BOT_REPLY)  # the bot's turn carries on


# -- Telegram ------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def telegram_channel(intake: Intake) -> AsyncIterator[tuple[TelegramChannel, FakeTelegram]]:
    fake = FakeTelegram()
    async with serve(fake) as url:
        bot = Bot(TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")
        await bot.initialize()
        channel = TelegramChannel(
            bot=bot, intake=intake, metrics=Metrics(), webhook_secret="w", link_secret="l",
            link_ttl_seconds=600, bot_username="", max_message_chars=2000,
            chat_limiter=RateLimiter(per_minute=60, burst=10), drain_seconds=1,
        )  # fmt: skip
        yield channel, fake
        await bot.shutdown()


async def test_telegram_raises_delivery_failed_when_the_bot_api_refuses(
    telegram_channel: tuple[TelegramChannel, FakeTelegram],
) -> None:
    channel, fake = telegram_channel
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(conversation("telegram", str(CHAT_ID)), STAFF_REPLY)
    assert isinstance(failed.value, NotDelivered) and failed.value.reason == "refused"
    fake.fail("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    await channel.send(conversation("telegram", str(CHAT_ID)), BOT_REPLY)  # the bot's turn carries on
    await channel.send(conversation("telegram", str(CHAT_ID)), STAFF_REPLY)  # and the next reply goes out
    assert fake.sent_texts(CHAT_ID)[-1] == STAFF_REPLY.text


async def test_a_staff_reply_telegram_refuses_reaches_the_console_as_delivery_failed(
    telegram_channel: tuple[TelegramChannel, FakeTelegram],
    service: ConversationService,
    db: sessionmaker[Session],
) -> None:
    channel, fake = telegram_channel
    service.register_channel(channel)
    started = await service.start_conversation(
        channel="telegram", address=str(CHAT_ID), customer_external_id=None, locale="en"
    )
    staff_id = create_staff(db)
    await service.assign(conversation_id=started.id, staff_id=staff_id, may_take_over=True)
    fake.fail("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(DeliveryFailed):
        await service.staff_reply(
            conversation_id=started.id, staff_id=staff_id, staff_name="Sam Carter", text="Are you there?"
        )
