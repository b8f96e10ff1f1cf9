"""bot.staff.console: the queue as the console shows it, and one conversation with all the bot knew."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from bot.staff import console
from crm.clock import as_utc, utcnow
from crm.models import ConversationState, HandoffStatus, Sender
from crm.services import handoff_queue
from tests.factories import (
    make_conversation,
    make_customer,
    make_handoff,
    make_held_conversation,
    make_message,
    make_staff_user,
)


def test_the_console_shows_the_queue_in_the_same_order(session: Session) -> None:
    make_held_conversation(session, "a", ConversationState.queued, (0, 30, False))
    make_held_conversation(session, "b", ConversationState.queued, (3, 10, False))
    make_held_conversation(session, "c", ConversationState.queued, (0, 50, False), (1, 1, False))
    make_held_conversation(session, "mine", ConversationState.assigned, (2, 20, False))

    view = console.queue_view(session, now=utcnow())
    assert [r.conversation_id for r in view.waiting] == [e.conversation_id for e in handoff_queue.queue(session)]
    assert [r.conversation_id for r in view.waiting] == ["b", "c", "a"]
    c = next(r for r in view.waiting if r.conversation_id == "c")
    assert c.priority == 1 and c.since < as_utc(utcnow()) - timedelta(minutes=49)
    assert [(r.conversation_id, r.priority) for r in view.with_staff] == [("mine", 2)]


def test_the_queue_names_the_customer_the_assignee_and_a_callback_and_lists_live_chats(session: Session) -> None:
    sam = make_staff_user(session, name="Sam Carter")
    amelia = make_customer(session, first_name="Amelia", last_name="Hughes")
    waiting = make_conversation(
        session, conversation_id="w", channel="sms", customer=amelia, state=ConversationState.queued
    )
    make_handoff(session, conversation=waiting, reason="complaint", intent="complain", priority=4)
    choice = {"kind": "handoff_choice", "choice": "callback"}
    make_message(session, conversation=waiting, sender=Sender.system, text="", data=choice)
    held = make_conversation(session, conversation_id="h", state=ConversationState.assigned)
    make_handoff(session, conversation=held, status=HandoffStatus.assigned).assigned_to_id = sam.id
    make_conversation(session, conversation_id="live")
    quiet = make_conversation(session, conversation_id="quiet")
    quiet.updated_at = utcnow() - console.LIVE_WINDOW - timedelta(minutes=1)
    session.flush()

    view = console.queue_view(session, now=utcnow())
    [row] = view.waiting
    assert (row.conversation_id, row.channel, row.priority, row.reason, row.intent) == (
        "w", "sms", 4, "complaint", "complain")
    assert (row.verified, row.customer_name, row.callback, row.assignee_name) == (True, "Amelia Hughes", True, None)
    [mine] = view.with_staff
    assert (mine.assignee_id, mine.assignee_name, mine.verified, mine.customer_name) == (sam.id, "Sam Carter", False, None)
    assert [r.conversation_id for r in view.live] == ["live"]


def test_a_conversation_shows_its_lines_latest_handoff_and_customer_card(session: Session) -> None:
    sam = make_staff_user(session, name="Sam Carter")
    amelia = make_customer(session, external_id="CC1", first_name="Amelia", last_name="Hughes")
    chat = make_conversation(session, conversation_id="c1", customer=amelia, state=ConversationState.assigned)
    make_handoff(session, conversation=chat, status=HandoffStatus.resolved)
    latest = make_handoff(session, conversation=chat, reason="request_human", priority=2, status=HandoffStatus.assigned,
                          verified=True, slots={"order_number": "1043"}, order_numbers=["1043"])  # fmt: skip
    latest.assigned_to_id = sam.id
    for sender, text, data in [
        (Sender.customer, "", {"payload": "/affirm", "rejected": True}),
        (Sender.bot, "Which one?", {"buttons": [{"title": "#1043"}, "junk"]}),
        (Sender.bot, "", {"custom": {"handoff": {"reason": "request_human"}}}),
        (Sender.bot, "", {"custom": {"x": 1}}),
    ]:
        make_message(session, conversation=chat, sender=sender, text=text, data=data)
    reply = make_message(session, conversation=chat, sender=Sender.agent, text="Hello", staff_user_id=sam.id)

    view = console.conversation_view(session, conversation_id="c1")
    assert view is not None
    assert (view.assignee_id, view.assignee_name, view.earlier_handoffs, view.callback) == (sam.id, "Sam Carter", 1, None)
    packet = view.packet
    assert packet is not None
    assert (packet.id, packet.priority, packet.verified, packet.order_numbers) == (latest.id, 2, True, ["1043"])
    assert view.card is not None and view.card.external_id == "CC1"
    assert [(l.sender, l.text, l.buttons, l.note) for l in view.lines] == [
        (Sender.customer, "", (), "Pressed a button the assistant no longer offered."),
        (Sender.bot, "Which one?", ("#1043",), None),
        (Sender.bot, "", (), "The assistant handed over (request_human)."),
        (Sender.bot, "", (), "The assistant sent structured data."),
        (Sender.agent, "Hello", (), None),
    ]
    assert console.staff_line(session, message_id=reply.id) == view.lines[-1]
    assert view.lines[-1].staff_name == "Sam Carter"
    assert console.staff_line(session, message_id=reply.id + 100) is None
    assert console.conversation_view(session, conversation_id="nobody") is None


def test_names_of_staff(session: Session) -> None:
    sam, alex = make_staff_user(session, name="Sam Carter"), make_staff_user(session, name="Alex Reed")
    assert console.names_of(session, {sam.id, alex.id, alex.id + 100}) == {sam.id: "Sam Carter", alex.id: "Alex Reed"}
    assert console.names_of(session, set()) == {}
