"""The conversation service against a stand-in Rasa: claims, order, failures, handoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.conversations import Outcome, Receipt, neutralise
from bot.core.messages import InboundMessage
from crm.models import Conversation, ConversationState, Message, Sender
from crm.services.verification_limits import client_fingerprint
from tests.fakes.rasa import RASA_TOKEN, RasaCall
from tests.fakes.rigs import CONTACT, ServiceRig, inbound, messages_of, metric

pytestmark = pytest.mark.asyncio


def count_messages(rig: ServiceRig, **where: object) -> int:
    with rig.db() as session:
        query = select(func.count()).select_from(Message)
        for column, value in where.items():
            query = query.where(getattr(Message, column) == value)
        return session.scalar(query) or 0


# -- de-duplication ----------------------------------------------------------------


async def test_ten_concurrent_deliveries_of_one_message_are_stored_and_answered_once(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.delay = 0.05
    outcomes = await asyncio.gather(
        *(rig.service.handle(inbound(conversation.id, "m-1", "where is my order?")) for _ in range(10))
    )
    assert sorted(o.value for o in outcomes) == ["answered"] + ["duplicate"] * 9
    assert count_messages(rig, sender=Sender.customer) == 1
    assert len(rig.rasa.calls) == 1
    assert rig.channel.texts(conversation.id) == ["echo: where is my order?"]
    assert metric(rig.metrics, "gateway_duplicates_dropped_total", {"channel": "web"}) == 9
    assert metric(rig.metrics, "gateway_messages_total", {"channel": "web", "direction": "in"}) == 1


async def test_two_gateways_racing_for_one_message_store_it_once(make_rig: Callable[..., ServiceRig]) -> None:
    # Two services share nothing but the database, like two gateway processes:
    # only the unique constraint stands between them and a double answer.
    first, second = make_rig(), make_rig()
    conversation = await first.conversation()
    message = inbound(conversation.id, "m-race", "hello")
    outcomes = await asyncio.gather(
        *(svc.service.handle(message) for _ in range(5) for svc in (first, second))
    )
    assert [o for o in outcomes if o is not Outcome.duplicate] == [Outcome.answered]
    assert count_messages(first, sender=Sender.customer) == 1
    assert len(first.rasa.calls) == 1


async def test_a_duplicate_is_acknowledged_without_a_second_answer(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    await rig.service.handle(inbound(conversation.id, "m-1", "hi"), on_stored=on_stored)
    await rig.service.handle(inbound(conversation.id, "m-1", "hi"), on_stored=on_stored)
    assert [r.duplicate for r in receipts] == [False, True]
    assert receipts[0].message_id is not None
    assert len(rig.rasa.calls) == 1


async def test_the_same_client_id_in_another_conversation_is_a_different_message(rig: ServiceRig) -> None:
    one, two = await rig.conversation(address="a"), await rig.conversation(address="b")
    assert await rig.service.handle(inbound(one.id, "same", "hi")) is Outcome.answered
    assert await rig.service.handle(inbound(two.id, "same", "hi")) is Outcome.answered
    assert len(rig.rasa.calls) == 2


# -- order ---------------------------------------------------------------------------


async def test_twenty_messages_in_flight_reach_rasa_one_at_a_time_in_order(rig: ServiceRig) -> None:
    first, second = await rig.conversation(address="a"), await rig.conversation(address="b")
    rig.rasa.delay = 0.02
    tasks = []
    for i in range(20):
        tasks.append(rig.service.submit(inbound(first.id, f"a{i}", f"a message {i}")))
        tasks.append(rig.service.submit(inbound(second.id, f"b{i}", f"b message {i}")))
    outcomes = await asyncio.gather(*tasks)

    assert set(outcomes) == {Outcome.answered}
    assert [c.message for c in rig.rasa.calls_for(first.id)] == [f"a message {i}" for i in range(20)]
    assert [c.message for c in rig.rasa.calls_for(second.id)] == [f"b message {i}" for i in range(20)]
    assert rig.rasa.max_active_per_sender == 1
    # ...while the two conversations did run side by side.
    assert rig.rasa.max_active_total == 2
    # The transcript keeps arrival order too (messages are stored on arrival,
    # answers as they come), and every answer comes after its question.
    texts = [m.text for m in messages_of(rig.db, first.id)]
    assert [t for t in texts if not t.startswith("echo")] == [f"a message {i}" for i in range(20)]
    assert [t for t in texts if t.startswith("echo")] == [f"echo: a message {i}" for i in range(20)]
    assert all(texts.index(f"a message {i}") < texts.index(f"echo: a message {i}") for i in range(20))
    assert rig.channel.texts(first.id) == [f"echo: a message {i}" for i in range(20)]


async def test_a_slow_message_holds_back_the_next_one_of_its_conversation_only(rig: ServiceRig) -> None:
    slow, other = await rig.conversation(address="a"), await rig.conversation(address="b")
    held = rig.rasa.gates["slow"] = asyncio.Event()
    slow_task = rig.service.submit(inbound(slow.id, "1", "slow"))
    next_task = rig.service.submit(inbound(slow.id, "2", "next"))
    other_task = rig.service.submit(inbound(other.id, "1", "other"))
    # Answered while Rasa still holds "slow": not queued behind the slow conversation...
    assert await asyncio.wait_for(other_task, 10) is Outcome.answered
    # ...while the slow conversation's next message still waits its turn.
    assert not slow_task.done() and not next_task.done()
    assert "next" not in [c.message for c in rig.rasa.calls_for(slow.id)]
    held.set()
    await asyncio.gather(slow_task, next_task)
    calls = rig.rasa.calls_for(slow.id)
    assert [c.message for c in calls] == ["slow", "next"]
    assert calls[1].started >= calls[0].ended


# -- what Rasa is sent ---------------------------------------------------------------


async def test_rasa_gets_the_token_the_sender_and_the_gateway_metadata(
    rig: ServiceRig, customer: object
) -> None:
    verified = await rig.conversation(customer="C001", address="v")
    anonymous = await rig.conversation(address="anon")
    await rig.service.handle(inbound(verified.id, "1", "hello"))
    await rig.service.handle(inbound(anonymous.id, "1", "hello"))
    first, second = rig.rasa.calls
    assert first.authorization == f"Bearer {RASA_TOKEN}"
    assert first.sender == verified.id
    assert first.metadata == {"channel": "web", "customer_id": "C001", "locale": "en", "client": client_fingerprint("web:v")}
    assert second.metadata == {"channel": "web", "customer_id": None, "locale": "en", "client": client_fingerprint("web:anon")}


async def test_a_claimed_customer_id_on_the_message_does_not_override_the_conversation(
    rig: ServiceRig, customer: object
) -> None:
    anonymous = await rig.conversation()
    await rig.service.handle(inbound(anonymous.id, "1", "hi", customer_external_id="C001"))
    assert rig.rasa.calls[0].metadata["customer_id"] is None


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("/greet", "greet"),
        ('  //request_human{"priority": 9}', 'request_human{"priority": 9}'),
        ("/ /restart", "restart"),
        ("my order /1043 is late", "my order /1043 is late"),
    ],
)
async def test_typed_intents_are_neutralised(rig: ServiceRig, typed: str, sent: str) -> None:
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", typed))
    assert rig.rasa.calls[0].message == sent
    # The transcript keeps what the customer actually wrote.
    assert messages_of(rig.db, conversation.id)[0].text == typed


async def test_nothing_but_slashes_gets_a_question_back_not_a_rasa_call(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    assert neutralise(" // ") == ""
    assert await rig.service.handle(inbound(conversation.id, "1", "//")) is Outcome.answered
    assert rig.rasa.calls == []
    assert "didn't catch that" in rig.channel.texts(conversation.id)[0]


def buttons_reply(call: RasaCall) -> list[dict[str, object]]:
    if call.message.startswith("/"):
        return [{"text": f"you chose {call.message}"}]
    return [
        {
            "text": "How would you rate us?",
            "buttons": [
                {"title": "Great", "payload": '/rate{"score": 5}'},
                {"title": "Poor", "payload": '/rate{"score": 1}'},
            ],
        },
        {"text": "Or just tell me."},
    ]


async def test_a_button_from_the_latest_bot_turn_is_passed_on_as_its_payload(rig: ServiceRig) -> None:
    rig.rasa.reply = buttons_reply
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "feedback"))
    outcome = await rig.service.handle(
        inbound(conversation.id, "2", payload='/rate{"score": 5}', payload_title="Great")
    )
    assert outcome is Outcome.answered
    assert rig.rasa.calls[-1].message == '/rate{"score": 5}'
    stored = messages_of(rig.db, conversation.id)
    assert stored[1].data == {
        "buttons": [
            {"title": "Great", "payload": '/rate{"score": 5}'},
            {"title": "Poor", "payload": '/rate{"score": 1}'},
        ]
    }
    pressed = stored[3]
    assert (pressed.sender, pressed.text) == (Sender.customer, "Great")
    assert pressed.data == {"payload": '/rate{"score": 5}', "title": "Great"}


async def test_a_payload_the_bot_never_offered_is_kept_but_not_sent(rig: ServiceRig) -> None:
    rig.rasa.reply = buttons_reply
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "feedback"))
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    forged = inbound(conversation.id, "2", payload='/request_refund{"amount": 999}', payload_title="Refund")
    assert await rig.service.handle(forged, on_stored=on_stored) is Outcome.rejected
    assert receipts[0].rejection == "bad_payload"
    assert len(rig.rasa.calls) == 1
    kept = messages_of(rig.db, conversation.id)[-1]
    assert kept.data is not None and kept.data["rejected"] == "bad_payload"
    assert (
        metric(rig.metrics, "gateway_rejected_messages_total", {"channel": "web", "reason": "bad_payload"})
        == 1
    )


async def test_buttons_go_stale_once_the_customer_has_moved_on(rig: ServiceRig) -> None:
    rig.rasa.reply = buttons_reply
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "feedback"))
    rig.rasa.reply = lambda call: [{"text": "ok"}]
    await rig.service.handle(inbound(conversation.id, "2", "never mind"))
    stale = inbound(conversation.id, "3", payload='/rate{"score": 5}', payload_title="Great")
    assert await rig.service.handle(stale) is Outcome.rejected


# -- replies, handoff -------------------------------------------------------------------


async def test_bot_replies_are_stored_with_buttons_and_custom_and_delivered(rig: ServiceRig) -> None:
    rig.rasa.reply = lambda call: [
        {"recipient_id": call.sender, "text": "Here you go", "image": "https://shop.example/map.png"},
        {"recipient_id": call.sender, "custom": {"order_card": {"number": "1043"}}},
    ]
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "order"))
    stored = messages_of(rig.db, conversation.id)
    assert [(m.sender, m.text) for m in stored] == [
        (Sender.customer, "order"),
        (Sender.bot, "Here you go"),
        (Sender.bot, ""),
    ]
    assert stored[1].data == {"image": "https://shop.example/map.png"}
    assert stored[2].data == {"custom": {"order_card": {"number": "1043"}}}
    # Only what a customer can see is delivered; typing wraps the Rasa call.
    assert rig.channel.texts(conversation.id) == ["Here you go"]
    assert rig.channel.typing_events == [(conversation.id, True), (conversation.id, False)]


def handoff_reply(call: RasaCall) -> list[dict[str, object]]:
    return [
        {"text": "I'm passing you to a colleague."},
        {"custom": {"handoff": {"reason": "request_human", "priority": 1, "handoff_id": 7}}},
    ]


async def test_a_handoff_queues_the_conversation_and_silences_the_bot(rig: ServiceRig) -> None:
    rig.rasa.reply = handoff_reply
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "a human please"))
    with rig.db() as session:
        assert session.get(Conversation, conversation.id).state is ConversationState.queued  # type: ignore[union-attr]
    # The bot's words, then the gateway's queue notice (place and wait, or opening hours:
    # tests/bot/test_handoff.py pins both down with a frozen clock).
    sent = rig.channel.texts(conversation.id)
    assert sent[0] == "I'm passing you to a colleague." and len(sent) == 2
    notice = messages_of(rig.db, conversation.id)[-1]
    assert notice.sender is Sender.system and notice.data["kind"] == "queue_notice"
    assert metric(rig.metrics, "gateway_handoffs_total", {"channel": "web"}) == 1

    assert await rig.service.handle(inbound(conversation.id, "2", "hello?")) is Outcome.held
    assert await rig.service.handle(inbound(conversation.id, "3", "anyone?")) is Outcome.held
    assert len(rig.rasa.calls) == 1  # the bot was not asked again
    sent = rig.channel.texts(conversation.id)
    # Told once that a person will reply, not on every message.
    assert len(sent) == 3 and "member of our team will reply here" in sent[2]
    customer_texts = [m.text for m in messages_of(rig.db, conversation.id) if m.sender is Sender.customer]
    assert customer_texts == ["a human please", "hello?", "anyone?"]


async def test_a_bare_handoff_signal_still_tells_the_customer_something(rig: ServiceRig) -> None:
    rig.rasa.reply = lambda call: [{"custom": {"handoff": {"reason": "fallback", "priority": 0}}}]
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "???"))
    sent = rig.channel.texts(conversation.id)
    assert len(sent) == 1 and "member of our team will reply here" in sent[0]
    await rig.service.handle(inbound(conversation.id, "2", "hello"))
    assert len(rig.channel.texts(conversation.id)) == 1  # no second notice


async def test_an_assigned_conversation_does_not_reach_the_bot(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    with rig.db() as session:
        session.get(Conversation, conversation.id).state = ConversationState.assigned  # type: ignore[union-attr]
        session.commit()
    assert await rig.service.handle(inbound(conversation.id, "1", "hi")) is Outcome.held
    assert rig.rasa.calls == []


# -- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("down", "down"), ("error", "http_error"), ("malformed", "malformed"), ("empty", "empty")],
)
async def test_when_rasa_fails_the_customer_gets_a_true_answer_and_the_message_is_kept(
    rig: ServiceRig, mode: str, kind: str
) -> None:
    rig.rasa.mode = mode
    conversation = await rig.conversation()
    assert await rig.service.handle(inbound(conversation.id, "1", "where is order 1043?")) is Outcome.failed
    (apology,) = rig.channel.sent
    assert apology[1].sender is Sender.system
    assert apology[1].text == (
        "Sorry — I'm having trouble answering right now. Your message is saved. "
        f"You can reach our team at {CONTACT}, or try again in a minute."
    )
    stored = messages_of(rig.db, conversation.id)
    assert [(m.sender, m.text) for m in stored] == [
        (Sender.customer, "where is order 1043?"),
        (Sender.system, apology[1].text),
    ]
    assert stored[1].data == {"kind": "apology", "failure": kind}
    assert metric(rig.metrics, "gateway_failures_total", {"kind": kind}) == 1
    assert rig.channel.typing_events[-1] == (conversation.id, False)


async def test_a_slow_rasa_gets_the_apology_out_within_the_deadline(
    make_rig: Callable[..., ServiceRig],
) -> None:
    rig = make_rig(timeout=0.5)
    rig.rasa.delay = 10
    conversation = await rig.conversation()
    started = time.monotonic()
    outcome = await rig.service.handle(inbound(conversation.id, "1", "hello"))
    elapsed = time.monotonic() - started
    assert outcome is Outcome.failed
    assert elapsed < 0.5 + 0.5
    assert "having trouble answering" in rig.channel.texts(conversation.id)[0]
    assert metric(rig.metrics, "gateway_failures_total", {"kind": "timeout"}) == 1
    assert metric(rig.metrics, "gateway_rasa_latency_seconds_count") == 1


async def test_after_a_failure_the_next_message_is_answered_normally(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.mode = "error"
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    rig.rasa.mode = "ok"
    assert await rig.service.handle(inbound(conversation.id, "2", "hello again")) is Outcome.answered
    assert rig.channel.texts(conversation.id)[-1] == "echo: hello again"


async def test_an_unreadable_shop_profile_still_gives_an_apology(make_rig: Callable[..., ServiceRig]) -> None:
    rig = make_rig()
    rig.service._contact = lambda: None  # type: ignore[method-assign]
    rig.rasa.mode = "error"
    conversation = await rig.conversation()
    await rig.service.handle(inbound(conversation.id, "1", "hello"))
    assert "You can reach our team by e-mail or phone, or try again" in rig.channel.texts(conversation.id)[0]


async def test_messages_in_progress_finish_on_shutdown(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    rig.rasa.delay = 0.2
    task = rig.service.submit(inbound(conversation.id, "1", "hello"))
    await rig.service.aclose(timeout=5)
    assert task.result() is Outcome.answered
    assert rig.channel.texts(conversation.id) == ["echo: hello"]


async def test_an_unregistered_channel_is_refused_up_front(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    with pytest.raises(ValueError, match="no channel registered"):
        rig.service.submit(
            InboundMessage(
                channel="sms", conversation_id=conversation.id, channel_message_id="SM1", text="hi"
            )
        )


async def test_a_message_the_database_cannot_take_is_reported_not_lost_silently(rig: ServiceRig) -> None:
    conversation = await rig.conversation()
    # The messages table goes away (renamed: on PostgreSQL other tables' keys point at it).
    with rig.db.kw["bind"].begin() as connection:
        connection.exec_driver_sql("ALTER TABLE messages RENAME TO messages_gone")
    receipts: list[Receipt] = []

    async def on_stored(receipt: Receipt) -> None:
        receipts.append(receipt)

    outcome = await rig.service.handle(inbound(conversation.id, "1", "hello"), on_stored=on_stored)
    assert outcome is Outcome.unstored
    assert [r.unavailable for r in receipts] == [True]
    assert rig.rasa.calls == []
    assert metric(rig.metrics, "gateway_failures_total", {"kind": "database"}) == 1
