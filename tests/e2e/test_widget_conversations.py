"""Whole conversations over the widget's WebSocket against the real stack:
trained model, real action server, gateway, temporary demo CRM."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.identity import hash_session_token
from bot.supervisor import Stack
from crm.db import session_scope
from crm.models import Conversation, ConversationState, Customer, Feedback, Handoff, Message, Sender
from tests.fakes.widget import WidgetCustomer

pytestmark = pytest.mark.asyncio(loop_scope="function")


def conversation_for(crm_url: str, client: WidgetCustomer) -> Conversation:
    assert client.session
    with session_scope(crm_url) as session:
        conversation = session.scalars(
            select(Conversation).where(
                Conversation.channel == "web", Conversation.address == hash_session_token(client.session)
            )
        ).one()
        session.expunge(conversation)
        return conversation


async def signed_in(stack: Stack, env: dict[str, str], customer_id: str) -> WidgetCustomer:
    return await WidgetCustomer.connect(
        stack.gateway_port, customer_id=customer_id, secret=env["WIDGET_IDENTITY_SECRET"]
    )


async def test_signed_in_customer_is_greeted_by_first_name_and_hears_about_open_order(
    stack: Stack, stack_env: dict[str, str]
) -> None:
    client = await signed_in(stack, stack_env, "C001")
    try:
        turn = await client.say("hi there")
        assert "Amelia" in turn.text
        assert "1043" in turn.text  # her latest open order, offered unasked
    finally:
        await client.close()


async def test_order_status_names_carrier_and_tracking(stack: Stack, stack_env: dict[str, str], crm_url: str) -> None:
    client = await signed_in(stack, stack_env, "C001")
    try:
        turn = await client.say("where is my order #1043?")
        assert "1043" in turn.text
        assert "Royal Mail" in turn.text
        assert "DW414134518GB" in turn.text  # the tracking number from the demo CRM
        # The transcript has both sides.
        conversation = conversation_for(crm_url, client)
        with session_scope(crm_url) as session:
            senders = [m.sender for m in session.scalars(
                select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
            )]
        assert senders[0] == Sender.customer and Sender.bot in senders
    finally:
        await client.close()


async def test_anonymous_customer_verifies_with_order_number_and_email(stack: Stack) -> None:
    client = await WidgetCustomer.connect(stack.gateway_port)
    try:
        first = await client.say("where is my order?")
        assert "order number" in first.text.lower()
        assert "Royal Mail" not in first.text
        second = await client.say("it's #1043")
        assert "mail" in second.text.lower()  # asks for the e-mail on the order
        third = await client.say("amelia.hughes@example.com")
        assert "1043" in third.text and "shipped" in third.text.lower()
    finally:
        await client.close()


async def test_someone_elses_order_is_refused_like_an_unknown_one(stack: Stack) -> None:
    client = await WidgetCustomer.connect(stack.gateway_port)
    try:
        await client.say("where is my order?")
        await client.say("1043")
        wrong = await client.say("oliver.bennett@example.com")  # a real customer, not 1043's
        assert "Royal Mail" not in wrong.text and "shipped" not in wrong.text.lower()
    finally:
        await client.close()
    other = await WidgetCustomer.connect(stack.gateway_port)
    try:
        await other.say("where is my order?")
        await other.say("987654")
        unknown = await other.say("oliver.bennett@example.com")
        assert unknown.text == wrong.text
    finally:
        await other.close()


async def test_feedback_is_stored_in_the_crm(stack: Stack, stack_env: dict[str, str], crm_url: str) -> None:
    client = await signed_in(stack, stack_env, "C002")
    try:
        await client.say("what delivery options do you have?")
        ask = await client.say("I'd like to leave some feedback")
        five = ask.button("5")
        await client.press(five)
        await client.say("Quick and friendly, thanks")
        conversation = conversation_for(crm_url, client)
        with session_scope(crm_url) as session:
            feedback = session.scalars(
                select(Feedback).where(Feedback.conversation_id == conversation.id)
            ).all()
            customer = session.scalars(select(Customer).where(Customer.external_id == "C002")).one()
            assert [(f.kind, f.score, f.customer_id) for f in feedback] == [("csat", 5, customer.id)]
            assert feedback[0].comment and "friendly" in feedback[0].comment
    finally:
        await client.close()


async def test_request_for_a_person_puts_the_conversation_in_the_queue(
    stack: Stack, stack_env: dict[str, str], crm_url: str
) -> None:
    client = await signed_in(stack, stack_env, "C003")
    try:
        turn = await client.say("I want to talk to a real person please")
        assert turn.messages, "the customer must be told what happens next"
        conversation = conversation_for(crm_url, client)
        with session_scope(crm_url) as session:
            state = session.get(Conversation, conversation.id).state  # type: ignore[union-attr]
            handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation.id)).one()
        assert state == ConversationState.queued
        assert handoff.reason == "request_human" and handoff.verified
        # While queued the bot stays silent; the message is kept for staff.
        await client.say("hello? anyone there?")
        with session_scope(crm_url) as session:
            kept = session.scalars(
                select(Message.text).where(
                    Message.conversation_id == conversation.id, Message.sender == Sender.customer
                )
            ).all()
            bot_after = session.scalars(
                select(Message).where(Message.conversation_id == conversation.id, Message.sender == Sender.bot)
            ).all()
        assert "hello? anyone there?" in kept
        assert all("anyone" not in (m.text or "") for m in bot_after)
    finally:
        await client.close()


async def test_history_is_replayed_on_reconnect(stack: Stack, stack_env: dict[str, str]) -> None:
    client = await signed_in(stack, stack_env, "C004")
    await client.say("what payment methods do you take?")
    session = client.session
    await client.close()
    again = await WidgetCustomer.connect(
        stack.gateway_port, customer_id="C004", secret=stack_env["WIDGET_IDENTITY_SECRET"], session=session
    )
    try:
        assert again.session == session
        texts = [m["text"] for m in again.history]
        assert texts[0] == "what payment methods do you take?"
        assert len(texts) >= 2 and len(set(m["id"] for m in again.history)) == len(again.history)
    finally:
        await again.close()
