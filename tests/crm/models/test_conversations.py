"""crm.models.conversations: a channel's message id is claimed once; what a conversation's deletion takes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Handoff,
    HandoffStatus,
    Message,
    Sender,
    StaffRole,
    StaffUser,
)
from tests.factories import make_conversation, make_customer, make_handoff, make_message


def test_a_channel_message_id_is_claimed_once_per_channel(session: Session, refused: Callable[..., None]) -> None:
    web, sms = make_conversation(session, channel="web"), make_conversation(session, channel="sms")
    make_message(session, conversation=web, channel_message_id="m-1")
    refused(Message(conversation_id=web.id, channel="web", channel_message_id="m-1", sender=Sender.customer))
    make_message(session, conversation=sms, channel_message_id="m-1")  # another channel's "m-1"
    for _ in range(2):  # the bot's own lines carry no channel id
        make_message(session, conversation=web, sender=Sender.bot)
    assert session.scalar(select(func.count()).select_from(Message)) == 4


def test_defaults_of_a_new_conversation_message_and_staff_member(session: Session, stored: Callable[[str], Any]) -> None:
    conversation = Conversation(id="c-defaults", channel="web")
    staff = StaffUser(email="new@example.com", name="New", password_hash="x")
    session.add_all([conversation, staff])
    session.flush()
    assert (conversation.state, conversation.address, conversation.locale) == (ConversationState.bot, "", "en")
    assert stored("SELECT state FROM conversations WHERE id = 'c-defaults'") == "bot"
    assert (staff.role, staff.active) == (StaffRole.agent, True)
    message = make_message(session, conversation=conversation, sender=Sender.customer, text="hi")
    assert (message.intent, message.turn_state, message.delivery) == (None, None, None)


def test_deleting_a_conversation_takes_its_messages_and_handoffs(session: Session) -> None:
    conversation = make_conversation(session, conversation_id="c-gone")
    make_message(session, conversation=conversation)
    make_handoff(session, conversation=conversation)
    session.execute(delete(Conversation).where(Conversation.id == "c-gone"))
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert session.scalar(select(func.count()).select_from(Handoff)) == 0


def test_an_erased_customer_leaves_their_conversations_anonymous(session: Session) -> None:
    customer = make_customer(session, external_id="E9")
    conversation = make_conversation(session, conversation_id="c-anon", customer=customer)
    handoff = make_handoff(session, conversation=conversation, customer=customer)
    assert handoff.status == HandoffStatus.queued
    session.execute(delete(Customer).where(Customer.id == customer.id))
    session.expire_all()
    assert session.get_one(Conversation, "c-anon").customer_id is None
    kept = session.get_one(Handoff, handoff.id)
    assert (kept.customer_id, kept.conversation_id) == (None, "c-anon")
