"""The SMS channel's outbound side with the conversation service: a staff member's
reply goes out as a text, and when it cannot (Twilio refuses, or the customer
opted out) the service learns it, while the bot's own turns carry on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import Session, sessionmaker

from bot.core.messages import ConversationRef, OutboundMessage
from bot.channels.sms import SmsChannel, TextNotSent, make_twilio_client
from bot.conversations import ConversationService, DeliveryFailed
from bot.intake.door import Intake
from bot.metrics import Metrics
from bot.rasa import RasaClient
from crm.models import Conversation, ConversationState, Message, Sender
from tests.bot.staff_support import create_staff
from tests.fakes.rasa import RASA_TOKEN, RASA_URL, FakeRasa
from tests.fakes.rigs import metric
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, SHOP_NUMBER, WEBHOOK_URL, FakeTwilioApi

pytestmark = pytest.mark.asyncio

NUMBER = "+447700900444"


@dataclass
class Rig:
    service: ConversationService
    sms: SmsChannel
    metrics: Metrics
    db: sessionmaker[Session]

    async def conversation(self) -> ConversationRef:
        return await self.service.start_conversation(
            channel="sms", address=NUMBER, customer_external_id=None, locale="en"
        )

    async def assigned(self) -> tuple[ConversationRef, int]:
        conversation = await self.conversation()
        staff_id = create_staff(self.db)
        await self.service.assign(conversation_id=conversation.id, staff_id=staff_id, may_take_over=True)
        return conversation, staff_id

    def opt_out(self, conversation: ConversationRef) -> None:
        with self.db() as session:
            session.add(
                Message(
                    conversation_id=conversation.id, channel="sms", channel_message_id="SM" + "f" * 32,
                    sender=Sender.customer, text="STOP",
                )  # fmt: skip
            )
            session.commit()


@pytest_asyncio.fixture
async def rig(db: sessionmaker[Session], fake_rasa: FakeRasa, twilio: FakeTwilioApi) -> AsyncIterator[Rig]:
    metrics = Metrics()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake_rasa.handler)) as http:
        service = ConversationService(
            sessionmaker=db,
            rasa=RasaClient(http, base_url=RASA_URL, token=RASA_TOKEN, timeout_seconds=2),
            metrics=metrics,
        )
        sms = SmsChannel(
            intake=Intake(service=service, sessionmaker=db),
            metrics=metrics,
            client=make_twilio_client(
                account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base_url=twilio.url
            ),
            from_number=SHOP_NUMBER,
            auth_token=AUTH_TOKEN,
            webhook_url=WEBHOOK_URL,
            send_timeout=2,
        )
        service.register_channel(sms)
        yield Rig(service=service, sms=sms, metrics=metrics, db=db)
        await service.aclose(timeout=5)


async def test_a_staff_reply_is_texted_to_the_customer(rig: Rig, twilio: FakeTwilioApi) -> None:
    conversation, staff_id = await rig.assigned()
    await rig.service.staff_reply(
        conversation_id=conversation.id, staff_id=staff_id, staff_name="Sam Carter", text="Hi, Sam here."
    )
    assert (await twilio.texts(NUMBER, 2))[-1] == "Hi, Sam here."
    with rig.db() as session:
        row = session.get(Conversation, conversation.id)
        assert row is not None and row.state == ConversationState.assigned


@pytest.mark.parametrize("failure", [(500, 20500), (400, 21610)])
async def test_a_staff_reply_twilio_refuses_is_reported_to_the_console(
    rig: Rig, twilio: FakeTwilioApi, failure: tuple[int, int]
) -> None:
    conversation, staff_id = await rig.assigned()
    sent_before = len(twilio.sent_to(NUMBER))
    status, code = failure
    twilio.fail_next(status=status, code=code)
    with pytest.raises(DeliveryFailed):
        await rig.service.staff_reply(
            conversation_id=conversation.id, staff_id=staff_id, staff_name="Sam Carter", text="Are you there?"
        )
    assert len(twilio.sent_to(NUMBER)) == sent_before
    assert metric(rig.metrics, "gateway_sms_not_sent_total", {"reason": "refused"}) == 1


async def test_a_staff_reply_to_a_number_that_opted_out_is_not_sent_and_says_why(
    rig: Rig, twilio: FakeTwilioApi
) -> None:
    conversation, staff_id = await rig.assigned()
    rig.opt_out(conversation)
    sent_before = len(twilio.requests)
    with pytest.raises(DeliveryFailed) as failed:
        await rig.service.staff_reply(
            conversation_id=conversation.id, staff_id=staff_id, staff_name="Sam Carter", text="Hello?"
        )
    # The channel's own error is the service's DeliveryFailed (bot.intake.delivery), with the reason.
    assert isinstance(failed.value, TextNotSent) and failed.value.reason == "opted_out"
    assert len(twilio.requests) == sent_before  # Twilio was not even asked


async def test_the_bots_messages_never_raise_and_the_next_one_still_goes_out(
    rig: Rig, twilio: FakeTwilioApi
) -> None:
    conversation = await rig.conversation()
    twilio.fail_next(status=503, code=20503)
    first = OutboundMessage(id="1", sender=Sender.bot, text="first")
    second = OutboundMessage(id="2", sender=Sender.bot, text="second")
    await rig.sms.send(conversation, first)
    await rig.sms.send(conversation, second)
    assert twilio.bodies_to(NUMBER) == ["second"]


async def test_an_unreachable_twilio_is_a_failure_not_a_hang(rig: Rig, twilio: FakeTwilioApi) -> None:
    conversation = await rig.conversation()
    twilio.delay = 3  # longer than the channel's send timeout
    with pytest.raises(TextNotSent) as failed:
        await rig.sms.send(conversation, OutboundMessage(id="1", sender=Sender.agent, text="hello"))
    assert failed.value.reason == "unreachable"
    assert metric(rig.metrics, "gateway_sms_not_sent_total", {"reason": "unreachable"}) == 1
