"""The handoff state machine in the conversation service, on a stand-in Rasa:
bot -> queued -> assigned -> resolved -> bot, what the customer is told at each
step (queue place and wait, business hours), and what staff can and cannot do."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import handoff
from bot.conversations import STAFF_QUEUE_KEY, Outcome, staff_conversation_key
from bot.persistence import queue, rows, states
from crm.models import (
    Conversation,
    ConversationState,
    Customer,
    Handoff,
    HandoffStatus,
    Sender,
    StaffRole,
)
from crm.shop import load_shop_profile
from tests.bot.staff_support import (
    CHRISTMAS_DAY,
    HANDOFF_TEXT,
    MONDAY_MORNING,
    PERSON,
    RATING_QUESTION,
    SUNDAY_NOON,
    HandoffRig,
    build_rig,
)
from tests.fakes.rasa import RASA_TOKEN, FakeRasa

pytestmark = pytest.mark.asyncio


@pytest.fixture
def rig(handoff_rig: HandoffRig) -> HandoffRig:
    return handoff_rig


def state_of(rig: HandoffRig, conversation_id: str) -> ConversationState:
    with rig.db() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.state


async def settle(rig: HandoffRig) -> None:
    """Let background work (the resume turn after a resolve) finish."""
    await rig.service.aclose(timeout=5)


# -- binding a verified customer ---------------------------------------------------------


async def test_bind_customer_links_the_customer_and_rasa_hears_it_from_the_next_message(
    rig: HandoffRig, customer: Customer
) -> None:
    conversation = await rig.conversation()
    await rig.say(conversation.id, "hello")
    bound = await rig.service.bind_customer(conversation.id, "C001")
    assert bound is not None and bound.customer_external_id == "C001"
    await rig.say(conversation.id, "where is my order")
    assert [c.metadata["customer_id"] for c in rig.rasa.fake.calls] == [None, "C001"]
    (entry,) = rig.audit("conversation.bind_customer")
    assert entry.subject == f"conversation:{conversation.id}" and entry.actor == "channel:web"
    # Binding the same customer again changes nothing and is not audited twice.
    assert (await rig.service.bind_customer(conversation.id, "C001")) is not None
    assert len(rig.audit("conversation.bind_customer")) == 1


async def test_bind_customer_refuses_unknown_ids_and_never_hands_a_conversation_to_someone_else(
    rig: HandoffRig, customer: Customer
) -> None:
    assert await rig.service.bind_customer("no-such-conversation", "C001") is None
    conversation = await rig.conversation()
    with pytest.raises(LookupError):
        await rig.service.bind_customer(conversation.id, "C999")
    with rig.db() as session:
        session.add(Customer(external_id="C002", first_name="Grace", last_name="Hopper"))
        session.commit()
    await rig.service.bind_customer(conversation.id, "C001")
    with pytest.raises(rows.CustomerConflict):
        await rig.service.bind_customer(conversation.id, "C002")
    found = await rig.service.find_conversation(channel="web", address="addr")
    assert found is not None and found.customer_external_id == "C001"


async def test_binding_during_a_handoff_puts_the_customer_on_the_waiting_packet(
    rig: HandoffRig, customer: Customer
) -> None:
    conversation = await rig.handed_off()
    await rig.service.bind_customer(conversation.id, "C001")
    (packet,) = rig.handoffs(conversation.id)
    assert packet.customer_id == customer.id


# -- handing off: the queue and what the customer hears ---------------------------------------


async def test_a_handoff_queues_the_conversation_and_tells_the_customer_their_place_and_wait(
    rig: HandoffRig,
) -> None:
    conversation = await rig.handed_off()
    assert state_of(rig, conversation.id) == ConversationState.queued
    assert rig.channel.texts(conversation.id) == [
        HANDOFF_TEXT,
        "You're next in the queue. Our team usually replies within about 10 minutes.",
    ]
    # The notice comes before "typing off", which clients take as the end of the turn.
    assert rig.channel.typing_events[-1] == (conversation.id, False)
    assert [f["event"] for f in rig.fanout.of(STAFF_QUEUE_KEY)] == ["handoff"]


async def test_the_place_in_the_queue_follows_priority_then_waiting_time(rig: HandoffRig) -> None:
    first = await rig.handed_off(address="a")
    second = await rig.handed_off(address="b")
    assert rig.channel.texts(second.id)[-1].startswith("You're number 2 in the queue.")
    # A complaint (higher priority) goes ahead of both.
    with rig.db() as session:
        session.add(
            Handoff(conversation_id=first.id, reason="complaint", priority=10, slots={}, order_numbers=[])
        )
        session.commit()
    third = await rig.handed_off(address="c")
    with rig.db() as session:
        order = [e.conversation_id for e in queue.queue(session)]
    assert order == [first.id, second.id, third.id]
    with rig.db() as session:
        high = session.scalars(select(Handoff).where(Handoff.conversation_id == second.id)).one()
        high.priority = 20
        session.commit()
        order = [e.conversation_id for e in queue.queue(session)]
    assert order == [second.id, first.id, third.id]


async def test_the_wait_estimate_is_the_median_of_recent_waits(rig: HandoffRig) -> None:
    now = MONDAY_MORNING
    with rig.db() as session:
        for minutes in (3, 30, 24, 26, 25):
            session.add(Conversation(id=f"old-{minutes}", channel="web", address=f"old-{minutes}"))
            session.flush()
            session.add(
                Handoff(
                    conversation_id=f"old-{minutes}",
                    reason="request_human",
                    slots={},
                    order_numbers=[],
                    status=HandoffStatus.resolved,
                    created_at=now - timedelta(hours=2),
                    assigned_at=now - timedelta(hours=2) + timedelta(minutes=minutes),
                )
            )
        # A wait from a month ago says nothing about today.
        session.add(Conversation(id="ancient", channel="web", address="ancient"))
        session.flush()
        session.add(
            Handoff(
                conversation_id="ancient",
                reason="request_human",
                slots={},
                order_numbers=[],
                status=HandoffStatus.resolved,
                created_at=now - timedelta(days=30),
                assigned_at=now - timedelta(days=29),
            )
        )
        session.commit()
        wait, from_history = queue.typical_wait(session, now=now)
    assert (wait, from_history) == (timedelta(minutes=25), True)
    conversation = await rig.handed_off()
    assert rig.channel.texts(conversation.id)[-1] == (
        "You're next in the queue. Our team usually replies within about 25 minutes."
    )


async def test_waits_are_described_in_plain_words() -> None:
    assert handoff.describe_wait(timedelta(seconds=40)) == "a minute or two"
    assert handoff.describe_wait(timedelta(minutes=7)) == "about 7 minutes"
    assert handoff.describe_wait(timedelta(minutes=23)) == "about 25 minutes"
    assert handoff.describe_wait(timedelta(minutes=70)) == "about an hour"
    assert handoff.describe_wait(timedelta(hours=3, minutes=10)) == "about 3 hours"


async def test_outside_business_hours_the_customer_hears_when_and_chooses_call_back_or_reply_here(
    rig: HandoffRig, customer: Customer
) -> None:
    rig.clock.now = SUNDAY_NOON
    conversation = await rig.handed_off(customer="C001")
    notice = rig.channel.sent[-1][1]
    assert notice.text == (
        "Our team is away right now and back tomorrow at 09:00. "
        "Would you like a call back then, or shall we reply here?"
    )
    assert [b.payload for b in notice.buttons] == [handoff.CALLBACK, handoff.REPLY_HERE]

    outcome = await rig.say(conversation.id, payload=handoff.CALLBACK, payload_title="Call me back")
    assert outcome is Outcome.answered
    # The gateway answers the choice itself: Rasa never sees it.
    assert [c.message for c in rig.rasa.fake.calls] == [PERSON]
    assert rig.channel.texts(conversation.id)[-1] == (
        "Thanks — we'll call you on the number ending 123 when we're back tomorrow at 09:00. "
        "If another number suits you better, just type it here."
    )
    assert state_of(rig, conversation.id) == ConversationState.queued


async def test_reply_here_is_acknowledged_and_an_unverified_customer_is_asked_for_a_number(
    rig: HandoffRig,
) -> None:
    rig.clock.now = SUNDAY_NOON
    here = await rig.handed_off(address="here")
    await rig.say(here.id, payload=handoff.REPLY_HERE, payload_title="Reply here")
    assert rig.channel.texts(here.id)[-1].startswith(
        "Thanks — we'll reply right here when we're back tomorrow"
    )
    call = await rig.handed_off(address="call")
    await rig.say(call.id, payload=handoff.CALLBACK, payload_title="Call me back")
    assert "please type the number we should call" in rig.channel.texts(call.id)[-1]


async def test_holidays_count_as_closed(rig: HandoffRig) -> None:
    # Christmas Day 2026 is a Friday; the shop opens on Saturday at 10:00.
    rig.clock.now = CHRISTMAS_DAY
    conversation = await rig.handed_off()
    assert "back tomorrow at 10:00" in rig.channel.texts(conversation.id)[-1]
    profile = load_shop_profile()
    assert profile.when_back(CHRISTMAS_DAY - timedelta(days=1)) == "on Saturday at 10:00"


async def test_without_a_readable_shop_profile_the_notice_makes_no_promise_about_hours(
    db: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    rig, http = build_rig(db, fake_rasa, now=SUNDAY_NOON, profile=lambda: None)
    try:
        conversation = await rig.handed_off()
        assert rig.channel.texts(conversation.id)[-1].startswith("You're next in the queue.")
    finally:
        await rig.service.aclose(timeout=5)
        await http.aclose()


async def test_while_queued_the_bot_is_silent_and_the_customer_is_reminded_once_with_their_place(
    rig: HandoffRig,
) -> None:
    conversation = await rig.handed_off()
    assert await rig.say(conversation.id, "hello?") is Outcome.held
    assert await rig.say(conversation.id, "anyone?") is Outcome.held
    assert len(rig.rasa.fake.calls) == 1
    texts = rig.channel.texts(conversation.id)
    assert len(texts) == 3 and texts[2].endswith("You're next in the queue.")
    # Staff watching the conversation see every customer message as it arrives.
    customer_frames = [
        f for f in rig.fanout.of(staff_conversation_key(conversation.id)) if f.get("from") == "customer"
    ]
    assert [f["text"] for f in customer_frames] == [PERSON, "hello?", "anyone?"]


# -- staff take over -----------------------------------------------------------------------


async def test_assigning_from_the_queue_tells_the_customer_who_joined_and_is_audited(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    assignment = await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert assignment.previous_state == ConversationState.queued
    assert state_of(rig, conversation.id) == ConversationState.assigned
    (packet,) = rig.handoffs(conversation.id)
    assert packet.status == HandoffStatus.assigned and packet.assigned_to_id == sam and packet.assigned_at
    assert rig.channel.texts(conversation.id)[-1] == "Sam Carter from our team has joined the chat."
    (entry,) = rig.audit("conversation.assign")
    assert (entry.actor, entry.subject) == (f"staff:{sam}", f"conversation:{conversation.id}")
    # Assigned: the customer's messages go to Sam, with no automatic notice (a person is there).
    assert await rig.say(conversation.id, "hi Sam") is Outcome.held
    assert rig.channel.texts(conversation.id)[-1] == "Sam Carter from our team has joined the chat."
    # Pressing "assign to me" again is harmless.
    again = await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert again.notice is None and len(rig.audit("conversation.assign")) == 1


async def test_two_agents_pressing_assign_at_once_exactly_one_gets_it(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam, alex = rig.staff("Sam Carter"), rig.staff("Alex Reid")
    results = await asyncio.gather(
        rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False),
        rig.service.assign(conversation_id=conversation.id, staff_id=alex, may_take_over=False),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, states.Assignment)]
    losers = [r for r in results if isinstance(r, states.TransitionRefused)]
    assert len(winners) == 1 and len(losers) == 1 and losers[0].reason in {"taken", "changed"}
    joined = [t for t in rig.channel.texts(conversation.id) if "has joined" in t]
    assert len(joined) == 1


async def test_an_agent_cannot_take_a_colleagues_conversation_but_an_admin_can(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam, alex = rig.staff("Sam Carter"), rig.staff("Alex Reid")
    boss = rig.staff("Robin Admin", StaffRole.admin)
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    with pytest.raises(states.TransitionRefused) as refused:
        await rig.service.assign(conversation_id=conversation.id, staff_id=alex, may_take_over=False)
    assert refused.value.reason == "taken"
    with pytest.raises(states.TransitionRefused) as refused:
        await rig.service.staff_reply(
            conversation_id=conversation.id, staff_id=alex, staff_name="Alex", text="hi"
        )
    assert refused.value.reason == "not_yours"
    with pytest.raises(states.TransitionRefused):
        await rig.service.resolve(conversation_id=conversation.id, staff_id=alex, may_take_over=False)
    await rig.service.assign(conversation_id=conversation.id, staff_id=boss, may_take_over=True)
    (packet,) = rig.handoffs(conversation.id)
    assert packet.assigned_to_id == boss
    assert [e.actor for e in rig.audit("conversation.take_over")] == [f"staff:{boss}"]


async def test_a_deactivated_account_can_do_nothing(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    with rig.db() as session:
        from crm.models import StaffUser

        staff = session.get(StaffUser, sam)
        assert staff is not None
        staff.active = False
        session.commit()
    with pytest.raises(states.TransitionRefused) as refused:
        await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=True)
    assert refused.value.reason == "not_staff"
    assert state_of(rig, conversation.id) == ConversationState.queued


async def test_staff_replies_reach_the_customer_and_are_stored_with_who_wrote_them(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    with pytest.raises(states.TransitionRefused) as refused:
        await rig.service.staff_reply(
            conversation_id=conversation.id, staff_id=sam, staff_name="Sam", text="hi"
        )
    assert refused.value.reason == "not_assigned"
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    outbound = await rig.service.staff_reply(
        conversation_id=conversation.id,
        staff_id=sam,
        staff_name="Sam Carter",
        text="Hi, I'm checking 1043 now.",
    )
    assert rig.channel.sent[-1][1].id == outbound.id
    assert rig.channel.sent[-1][1].sender is Sender.agent
    stored = rig.messages(conversation.id)[-1]
    assert (stored.sender, stored.staff_user_id, stored.text) == (
        Sender.agent,
        sam,
        "Hi, I'm checking 1043 now.",
    )
    (entry,) = rig.audit("conversation.reply")
    # Who, what, where — never the words.
    assert entry.detail == {"message": stored.id} and "1043" not in str(entry.detail)
    frame = rig.fanout.of(staff_conversation_key(conversation.id))[-1]
    assert frame["from"] == "agent" and frame["staff_name"] == "Sam Carter"


# -- handing back: resolve, the rating question -------------------------------------------------


async def test_resolve_hands_back_to_the_bot_which_asks_for_a_rating_about_that_person(
    rig: HandoffRig,
) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    resolution = await rig.service.resolve(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    await settle(rig)
    (packet,) = rig.handoffs(conversation.id)
    assert resolution.handoff_ids == (packet.id,)
    assert (packet.status, packet.resolved_by_id) == (HandoffStatus.resolved, sam) and packet.resolved_at
    (trigger,) = rig.rasa.triggers
    assert (trigger.sender, trigger.name, trigger.entities) == (
        conversation.id,
        "handoff_resolved",
        {"staff_user_id": str(sam)},
    )
    assert trigger.token == RASA_TOKEN
    # Whatever form the bot was in when staff stepped in is over before the trigger.
    assert rig.rasa.appended == [
        (
            conversation.id,
            [
                {"event": "active_loop", "name": None},
                {"event": "slot", "name": "requested_slot", "value": None},
            ],
            RASA_TOKEN,
        )
    ]
    assert rig.channel.texts(conversation.id)[-1] == RATING_QUESTION
    assert [b.title for b in rig.channel.sent[-1][1].buttons] == ["1", "2", "3", "4", "5"]
    assert state_of(rig, conversation.id) == ConversationState.bot
    assert [e.actor for e in rig.audit("conversation.resolve")] == [f"staff:{sam}"]
    # The bot answers again, and the rating buttons it offered are live.
    assert (
        await rig.say(conversation.id, payload='/inform{"rating":"5"}', payload_title="5") is Outcome.answered
    )
    assert rig.rasa.fake.calls[-1].message == '/inform{"rating":"5"}'


async def test_when_rasa_cannot_resume_the_customer_still_hears_the_bot_is_back(rig: HandoffRig) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    rig.rasa.trigger_mode = "down"
    await rig.service.resolve(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    await settle(rig)
    assert rig.channel.texts(conversation.id)[-1] == handoff.RESUMED
    assert state_of(rig, conversation.id) == ConversationState.bot


async def test_a_message_arriving_while_the_bot_resumes_waits_for_the_rating_question(
    rig: HandoffRig,
) -> None:
    conversation = await rig.handed_off()
    sam = rig.staff("Sam Carter")
    await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    rig.rasa.trigger_delay = 0.3
    await rig.service.resolve(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    outcome = await rig.say(conversation.id, "thanks!")
    await settle(rig)
    # The trigger went first; "thanks!" then reached the bot normally.
    assert outcome is Outcome.answered
    assert rig.rasa.triggers[0].at < rig.rasa.fake.calls[-1].started
    texts = rig.channel.texts(conversation.id)
    assert texts.index(RATING_QUESTION) < texts.index("echo: thanks!")


async def test_resolving_needs_the_conversation_to_be_with_staff(rig: HandoffRig) -> None:
    conversation = await rig.conversation()
    sam = rig.staff("Sam Carter")
    with pytest.raises(states.TransitionRefused) as refused:
        await rig.service.resolve(conversation_id=conversation.id, staff_id=sam, may_take_over=True)
    assert refused.value.reason == "not_held"
    assert rig.rasa.triggers == []
    # An admin may close a conversation still waiting in the queue (spam, a duplicate).
    boss = rig.staff("Robin Admin", StaffRole.admin)
    queued = await rig.handed_off(address="other")
    with pytest.raises(states.TransitionRefused):
        await rig.service.resolve(conversation_id=queued.id, staff_id=sam, may_take_over=False)
    await rig.service.resolve(conversation_id=queued.id, staff_id=boss, may_take_over=True)
    await settle(rig)
    assert state_of(rig, queued.id) == ConversationState.bot


async def test_staff_can_take_over_a_live_conversation_straight_from_the_bot(
    rig: HandoffRig, customer: Customer
) -> None:
    conversation = await rig.conversation(customer="C001")
    await rig.say(conversation.id, "hello")
    sam = rig.staff("Sam Carter")
    assignment = await rig.service.assign(conversation_id=conversation.id, staff_id=sam, may_take_over=False)
    assert assignment.previous_state == ConversationState.bot
    (packet,) = rig.handoffs(conversation.id)
    assert (packet.reason, packet.verified, packet.customer_id, packet.assigned_to_id) == (
        "staff_takeover",
        True,
        customer.id,
        sam,
    )
    assert [e.action for e in rig.audit()][-1] == "conversation.take_over"
    assert await rig.say(conversation.id, "oh hi") is Outcome.held
    assert len(rig.rasa.fake.calls) == 1


# -- staff alerts ---------------------------------------------------------------------------


async def test_a_new_handoff_is_announced_in_the_staff_telegram_chat_without_personal_data(
    db: sessionmaker[Session], fake_rasa: FakeRasa, customer: Customer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.fakes.telegram import FakeTelegram, serve

    fake = FakeTelegram()
    async with serve(fake) as base_url:
        alerts = handoff.TelegramStaffAlerts(token=fake.token, chat_id="-100777", api_base_url=base_url)
        rig, http = build_rig(db, fake_rasa, alerts=alerts)
        try:
            conversation = await rig.handed_off(customer="C001")
            await settle(rig)
            (text,) = fake.sent_texts(-100777)
            assert text == (
                "New handoff: request human from a verified customer on web.\n"
                "Waiting now: 1.\n"
                f"https://shop.example/staff/conversations/{conversation.id}"
            )
            for personal in ("Ada", "Lovelace", "C001", "+447700900123", "ada.lovelace", PERSON):
                assert personal not in text
            # Telegram failing costs the alert, never the handoff.
            fake.fail("sendMessage", status=400, description="Bad Request: chat not found")
            second = await rig.handed_off(address="second")
            await settle(rig)
            assert state_of(rig, second.id) == ConversationState.queued
            assert "staff Telegram alert not sent" in caplog.text
        finally:
            await alerts.aclose()
            await http.aclose()
